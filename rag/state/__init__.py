"""The shared state store: what a request needs beyond the index, kept where every worker and machine sees it.

Conversations (``rag/sessions.py``), WeChat's de-duplication, 「更多」 continuations and pending answers
(``api/wechat/dialogue.py``), the signed-query bindings and the access token (``api/wechat``), and the rate-limit
buckets (``api/security.py``) all live in one ``StateStore``, so ``planqa serve --workers N`` and several machines
behind a load balancer behave as one server.

Backends (``STATE_STORES``: name → class, ``open_state_store``):
- ``memory``: in this process (one worker; the default with one worker);
- ``sqlite``: a file in WAL mode, shared by the processes of one machine (the default with ``--workers N>1``);
- ``redis``: a Redis server shared by several machines (``PLANQA_REDIS_URL``; ``pip install '.[redis]'``).

Values are text: callers serialise them explicitly (JSON; ``rag/codec.py`` for the answer types), never pickle,
so nothing another process wrote can run code here. Keys are ``space:rest``; the space (``turn``, ``wx-seen``,
``rate``…) bounds the memory and SQLite backends (``StateStoreConfig.caps``: the least recently written go first
beyond it); every entry also expires. Times are wall-clock seconds (``time.time``): comparable across processes
and, with NTP, across machines.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from index.errors import MissingDependencyError, StateStoreError, UnknownStateStoreError

DEFAULT_CAP = 50_000  # entries per key space, beyond which the least recently written go first


@dataclass(frozen=True)
class StateStoreConfig:
    path: Path | None = None  # sqlite: the database file (created, with its folder)
    url: str = ""  # redis: redis://host:6379/0, rediss://…, unix:///path.sock
    key_prefix: str = "planqa:"  # redis: every key starts with it (a Redis shared with other applications)
    caps: Mapping[str, int] = field(default_factory=dict)  # entries kept per key space (memory, sqlite)
    default_cap: int = DEFAULT_CAP
    timeout_s: float = 2.0  # redis: socket timeout; sqlite: how long a writer waits for the lock (x 2.5)

    def cap(self, key: str) -> int:
        return self.caps.get(space_of(key), self.default_cap)


def space_of(key: str) -> str:
    """``"turn:web:c-1"`` → ``"turn"``."""
    return key.split(":", 1)[0]


class StateStore(Protocol):
    """Text values by key, each with a time to live; every operation is atomic across processes."""

    def get(self, key: str) -> str | None:
        """The value; None when absent or expired."""
        ...

    def set(self, key: str, value: str, ttl: float) -> None:
        """Store ``value``, forgotten ``ttl`` seconds from now."""
        ...

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Store ``value`` only if ``key`` holds nothing (or only something expired): a claim. True if stored."""
        ...

    def take(self, key: str) -> str | None:
        """The value, removed in the same step: of two takers, one gets it."""
        ...

    def delete(self, key: str) -> None: ...

    def bucket(self, key: str, capacity: float, per_second: float, now: float, consume: bool = True) -> float:
        """A token bucket (``rag/state/bucket.py``): 0 if a token is there (taken when ``consume``), else the
        seconds until one is. A bucket left alone refills and is forgotten once full."""
        ...

    def close(self) -> None: ...


# name → "module:class", imported on use: a missing optional dependency fails when its backend is chosen.
STATE_STORES: dict[str, str] = {
    "memory": "rag.state.memory:MemoryStore",
    "sqlite": "rag.state.sqlite:SqliteStore",
    "redis": "rag.state.redis:RedisStore",
}


def open_state_store(
    name: str, config: StateStoreConfig | None = None, clock: Callable[[], float] | None = None
) -> StateStore:
    """The backend ``name``, opened. UnknownStateStoreError lists the valid names; MissingDependencyError names the
    extra to install."""
    target = STATE_STORES.get(name)
    if target is None:
        raise UnknownStateStoreError(
            f"未知的状态存储：{name!r}。Unknown state store {name!r}: use one of {', '.join(STATE_STORES)} "
            "(PLANQA_STATE_STORE)."
        )
    module, _, cls = target.partition(":")
    store: StateStore = getattr(importlib.import_module(module), cls)(config or StateStoreConfig(), clock=clock)
    return store


__all__ = [
    "STATE_STORES",
    "MissingDependencyError",
    "StateStore",
    "StateStoreError",
    "StateStoreConfig",
    "UnknownStateStoreError",
    "open_state_store",
    "space_of",
]
