"""The Redis store: state shared by several machines behind a load balancer (``PLANQA_REDIS_URL``).

Each operation is one Redis command (``SET … PX``, ``SET … NX PX`` for claims, ``GETDEL`` for takes) or one Lua
script (the token bucket), so it is atomic however many workers and machines run it. Keys are prefixed
(``StateStoreConfig.key_prefix``) and all expire; Redis bounds memory itself (set ``maxmemory`` with a ``volatile-*``
policy). A network error or a timeout (``StateStoreConfig.timeout_s``) is a StateStoreError, never a hang.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from index.errors import MissingDependencyError, StateStoreError
from rag.state import StateStoreConfig

# The token bucket of rag/state/bucket.py, as one atomic step inside Redis. KEYS[1]: the bucket;
# ARGV: capacity, per_second, now, consume (1/0). Returns the wait in seconds, as a string (Lua numbers
# returned to Redis are cut to integers). The bucket is a hash {t: tokens, a: at}.
_BUCKET = """
local capacity, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if ARGV[4] == '1' then
  if tokens >= 1 then tokens = tokens - 1 end
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', tostring(math.max(at, now)))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / rate * 1000)))
end
return tostring(wait)
"""


class RedisStore:
    def __init__(self, config: StateStoreConfig | None = None, clock: Callable[[], float] | None = None) -> None:
        try:
            import redis
        except ImportError as e:
            raise MissingDependencyError(
                "未安装 redis 客户端。The Redis state store needs the redis package: pip install 'planqa[redis]' "
                "(or pip install '.[redis]' in a checkout)."
            ) from e
        self.config = config or StateStoreConfig()
        if not self.config.url:
            raise StateStoreError(
                "未设置 Redis 地址。The Redis state store needs PLANQA_REDIS_URL (redis://host:6379/0)."
            )
        self.prefix = self.config.key_prefix
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        timeout = self.config.timeout_s
        self._redis: Any = redis.Redis.from_url(
            self.config.url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        self._bucket = self._redis.register_script(_BUCKET)
        # clock: unused; Redis expires keys by its own clock, and buckets take ``now`` from the caller.

    def get(self, key: str) -> str | None:
        return self._call(self._redis.get, self.prefix + key)

    def set(self, key: str, value: str, ttl: float) -> None:
        self._call(self._redis.set, self.prefix + key, value, px=_ms(ttl))

    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._call(self._redis.set, self.prefix + key, value, px=_ms(ttl), nx=True))

    def take(self, key: str) -> str | None:
        return self._call(self._redis.getdel, self.prefix + key)

    def delete(self, key: str) -> None:
        self._call(self._redis.delete, self.prefix + key)

    def bucket(self, key: str, capacity: float, per_second: float, now: float, consume: bool = True) -> float:
        args = [repr(float(capacity)), repr(float(per_second)), repr(float(now)), "1" if consume else "0"]
        return float(self._call(self._bucket, keys=[self.prefix + key], args=args))

    def close(self) -> None:
        self._redis.close()

    def _call(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except self._errors as e:
            raise StateStoreError(
                f"共享状态存储不可用：{e}。The Redis state store failed ({type(e).__name__}: {e}): check that Redis "
                f"runs and PLANQA_REDIS_URL points at it."
            ) from e


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))
