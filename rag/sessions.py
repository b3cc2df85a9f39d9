"""The session store: each conversation's last turn and its plan, by conversation key, expiring.

Only the last turn is kept: follow-ups are read against the turn before and nothing older. In a library of plans
the conversation's plan is kept too (a follow-up stays on it; a WeChat user's choice of plan lives here).
Both live in the shared state store (``rag/state``), as JSON (``rag/codec.py``), so a follow-up that lands on
another worker or machine reads the same turn. Conversations are forgotten ``ttl_seconds`` after their last
turn; the memory and SQLite stores keep at most ``max_conversations``, the least recently used going first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from index.errors import InvalidConversationError
from rag.codec import CodecError, dumps, loads
from rag.limits import CONVERSATION_ID, CONVERSATION_TTL_S, MAX_CONVERSATIONS
from rag.state import StateStore, StateStoreConfig, open_state_store
from rag.types import Turn

log = logging.getLogger("planqa.sessions")

TURNS, PLANS = "turn", "plan"  # the store's key spaces


@dataclass(frozen=True)
class SessionConfig:
    ttl_seconds: float = CONVERSATION_TTL_S
    max_conversations: int = MAX_CONVERSATIONS

    def caps(self) -> dict[str, int]:
        """The store's bounds for conversations (``StateStoreConfig.caps``)."""
        return {TURNS: self.max_conversations, PLANS: self.max_conversations}


class SessionStore:
    """The last turn of each conversation; safe to share between threads (and, through a shared state store,
    between processes)."""

    def __init__(
        self,
        config: SessionConfig | None = None,
        store: StateStore | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or SessionConfig()
        self.store = store or open_state_store("memory", StateStoreConfig(caps=self.config.caps()), clock=clock)

    def last(self, conversation_id: str) -> Turn | None:
        """The conversation's last turn; None when unknown or expired (or written by a version whose turns
        this one cannot read: the conversation starts afresh)."""
        text = self.store.get(f"{TURNS}:{conversation_id}")
        if text is None:
            return None
        try:
            return loads(Turn, text)
        except CodecError as e:
            log.warning("stored turn unreadable, ignored", extra={"event": "turn_unreadable", "error": str(e)})
            return None

    def remember(self, conversation_id: str, turn: Turn) -> None:
        self.store.set(f"{TURNS}:{conversation_id}", dumps(turn), self.config.ttl_seconds)

    def forget(self, conversation_id: str) -> None:
        """Drop the last turn (the conversation moved to another plan: its tasks are not this plan's)."""
        self.store.delete(f"{TURNS}:{conversation_id}")

    def plan(self, conversation_id: str) -> str | None:
        """The plan the conversation is on (a library's plan id); None when unknown or expired."""
        return self.store.get(f"{PLANS}:{conversation_id}")

    def remember_plan(self, conversation_id: str, plan_id: str) -> None:
        self.store.set(f"{PLANS}:{conversation_id}", plan_id, self.config.ttl_seconds)


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
