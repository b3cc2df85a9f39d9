"""The in-process store: one worker's state, as PlanQA kept it before the shared store (and the default with one
worker). Bounded per key space (``StateStoreConfig.caps``), least recently used first; every entry expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cachetools

from rag.state import StateStoreConfig, space_of
from rag.state.bucket import decode, encode, refill


class MemoryStore:
    def __init__(self, config: StateStoreConfig | None = None, clock: Callable[[], float] | None = None) -> None:
        self.config = config or StateStoreConfig()
        self.clock = clock or time.time
        self._spaces: dict[str, cachetools.TLRUCache[str, tuple[str, float]]] = {}
        self._lock = threading.Lock()  # cachetools is not thread-safe; every step below is one critical section

    def _space(self, key: str) -> cachetools.TLRUCache[str, tuple[str, float]]:
        space = space_of(key)
        cache = self._spaces.get(space)
        if cache is None:
            cache = cachetools.TLRUCache(max(1, self.config.cap(key)), ttu=_expiry, timer=self.clock)
            self._spaces[space] = cache
        return cache

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._space(key).get(key)
        return entry[0] if entry is not None else None

    def set(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._put(key, value, ttl)

    def add(self, key: str, value: str, ttl: float) -> bool:
        with self._lock:
            if self._space(key).get(key) is not None:
                return False
            self._put(key, value, ttl)
            return True

    def take(self, key: str) -> str | None:
        with self._lock:
            entry = self._space(key).pop(key, None)
        return entry[0] if entry is not None else None

    def delete(self, key: str) -> None:
        self.take(key)

    def bucket(self, key: str, capacity: float, per_second: float, now: float, consume: bool = True) -> float:
        with self._lock:
            entry = self._space(key).get(key)
            wait, state, full_in = refill(decode(entry[0] if entry else None), capacity, per_second, now, consume)
            if consume:
                self._put(key, encode(state), full_in)
            return wait

    def close(self) -> None:
        with self._lock:
            self._spaces.clear()

    def _put(self, key: str, value: str, ttl: float) -> None:
        cache = self._space(key)
        cache.pop(key, None)  # re-inserting renews the entry's place and its time to live
        cache[key] = (value, self.clock() + ttl)


def _expiry(key: str, entry: tuple[str, float], now: float) -> float:
    return entry[1]
