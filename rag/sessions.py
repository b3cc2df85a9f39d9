"""The session store: each conversation's last turn and its plan, by conversation id, bounded and expiring.

Only the last turn is kept: follow-ups are read against the turn before and nothing older. In a library of plans
the conversation's plan is kept too (a follow-up stays on it; a WeChat user's choice of plan lives here).
Conversations are
forgotten ``ttl_seconds`` after their last turn, and the least recently used go first beyond
``max_conversations``. In memory, per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from index.errors import InvalidConversationError
from rag.caches import BoundedCache
from rag.limits import CONVERSATION_ID, CONVERSATION_TTL_S, MAX_CONVERSATIONS
from rag.types import Turn


@dataclass(frozen=True)
class SessionConfig:
    ttl_seconds: float = CONVERSATION_TTL_S
    max_conversations: int = MAX_CONVERSATIONS


class SessionStore:
    """The last turn of each conversation; safe to share between threads."""

    def __init__(self, config: SessionConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or SessionConfig()
        self._turns: BoundedCache[str, Turn] = BoundedCache(
            self.config.max_conversations, ttl=self.config.ttl_seconds, clock=clock
        )
        self._plans: BoundedCache[str, str] = BoundedCache(
            self.config.max_conversations, ttl=self.config.ttl_seconds, clock=clock
        )

    def last(self, conversation_id: str) -> Turn | None:
        """The conversation's last turn; None when unknown or expired."""
        return self._turns.get(conversation_id)

    def remember(self, conversation_id: str, turn: Turn) -> None:
        self._turns.put(conversation_id, turn)

    def forget(self, conversation_id: str) -> None:
        """Drop the last turn (the conversation moved to another plan: its tasks are not this plan's)."""
        self._turns.pop(conversation_id)

    def plan(self, conversation_id: str) -> str | None:
        """The plan the conversation is on (a library's plan id); None when unknown or expired."""
        return self._plans.get(conversation_id)

    def remember_plan(self, conversation_id: str, plan_id: str) -> None:
        self._plans.put(conversation_id, plan_id)

    def __len__(self) -> int:
        return len(self._turns)


def session_key(channel: str, conversation_id: str) -> str:
    """Conversations are namespaced by channel: an API caller who knows a WeChat OpenID cannot steer it."""
    return f"{channel}:{check_conversation_id(conversation_id)}"


def check_conversation_id(conversation_id: str) -> str:
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidConversationError(
            "会话编号无效：应为1–128个字母、数字或 -_.:@=+/ 字符。"
            "Invalid conversation_id: use 1-128 letters, digits or -_.:@=+/ characters."
        )
    return conversation_id
