"""The session store: each conversation's last turn, by conversation id, bounded and expiring.

Only the last turn is kept: follow-ups are read against the turn before and nothing older. Conversations are
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

    def last(self, conversation_id: str) -> Turn | None:
        """The conversation's last turn; None when unknown or expired."""
        return self._turns.get(conversation_id)

    def remember(self, conversation_id: str, turn: Turn) -> None:
        self._turns.put(conversation_id, turn)

    def __len__(self) -> int:
        return len(self._turns)


def check_conversation_id(conversation_id: str) -> str:
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidConversationError(
            "会话编号无效：应为1–128个字母、数字或 -_.:@=+/ 字符。"
            "Invalid conversation_id: use 1-128 letters, digits or -_.:@=+/ characters."
        )
    return conversation_id
