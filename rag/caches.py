"""The one bounded cache: least-recently-used, optionally expiring, thread-safe, counting its hits.

Built on ``cachetools`` (which is not thread-safe by itself, hence the lock). Used for repeated answers, the
conversation store, the WeChat channels' per-message and per-user state, and the rate limiters' buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import cachetools

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``maxsize`` entries, the least recently used dropped first; with ``ttl``, each entry is also
    forgotten ``ttl`` seconds after it was last set. ``maxsize=0`` caches nothing."""

    def __init__(self, maxsize: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self.observer: Callable[[bool], None] | None = None  # told of every ``get``: True for a hit
        size = max(1, maxsize)
        self._data: cachetools.Cache[K, V] = (
            cachetools.TTLCache(size, ttl, timer=clock) if ttl is not None else cachetools.LRUCache(size)
        )
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value (renewing its place as most recently used), counting the look-up as a hit or a miss."""
        with self._lock:
            value = self._data.get(key)
        self.record(value is not None)
        return value

    def peek(self, key: K) -> V | None:
        """The value, without counting the look-up (``record`` it once its outcome is known)."""
        with self._lock:
            return self._data.get(key)

    def record(self, hit: bool) -> None:
        """Count one look-up, and tell the observer."""
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if self.observer:
            self.observer(hit)

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data.pop(key, None)  # re-inserting renews the entry's time to live
            self._data[key] = value

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._data.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            if isinstance(self._data, cachetools.TTLCache):
                self._data.expire()
            return len(self._data)
