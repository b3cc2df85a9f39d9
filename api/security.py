"""Access control: API keys and rate limits, in front of every route but the exempt ones.

- ``PLANQA_API_KEYS`` (comma-separated): when set, every route except ``/health``, ``/ready``, the page
  (``/``, ``/static/…``) and the WeChat callbacks (which carry their own signatures) needs
  ``Authorization: Bearer <key>``. Keys are compared in constant time.
- Rate limits (token buckets, requests per minute; 0 turns one off): per key for requests with a valid
  key, per client address otherwise. Over the limit: 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import math
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from api import metrics
from api.errors import error_bytes
from rag.caches import BoundedCache

EXEMPT_EXACT = frozenset({"/health", "/ready", "/", "/favicon.ico", "/wechat", "/wecom"})
EXEMPT_PREFIXES = ("/static/",)
_MAX_BUCKETS = 50_000


def key_matches(given: str, keys: tuple[str, ...]) -> bool:
    """Compare ``given`` with every key, each in constant time: timing tells nothing of a near match."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.encode())
    return matched


def bearer(headers: dict[bytes, bytes]) -> str:
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class TokenBuckets:
    """One bucket per name: ``per_minute`` requests a minute, bursting up to ``per_minute``."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        # (tokens, last refill) per name; the longest idle are forgotten beyond _MAX_BUCKETS.
        self._buckets: BoundedCache[str, tuple[float, float]] = BoundedCache(_MAX_BUCKETS)
        self._lock = threading.Lock()  # take() reads, then writes: one at a time

    def take(self, name: str, now: float | None = None) -> float:
        """0 if a request may go now, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(name) or (self.capacity, now)
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets.put(name, (tokens - 1 if tokens >= 1 else tokens, now))
            return wait


class AccessMiddleware:
    def __init__(self, app: ASGIApp, keys: tuple[str, ...], per_key: int, per_ip: int) -> None:
        self.app, self.keys = app, keys
        self.by_key = TokenBuckets(per_key) if per_key > 0 else None
        self.by_ip = TokenBuckets(per_ip) if per_ip > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_EXACT or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = scope.get("state", {}).get("request_id", "")
        token = bearer(headers)
        if self.keys and not (token and key_matches(token, self.keys)):
            await _refuse(
                send,
                401,
                "invalid_api_key",
                "API密钥无效或缺失：请在请求头中提供 Authorization: Bearer <密钥>。"
                "Missing or invalid API key: send Authorization: Bearer <key> with a key from PLANQA_API_KEYS.",
                request_id,
                {"www-authenticate": "Bearer"},
            )
            return
        buckets: TokenBuckets | None
        if self.keys and self.by_key:
            name, buckets, by = f"key:{token}", self.by_key, "key"
        else:
            client = scope.get("client") or ("unknown", 0)
            name, buckets, by = f"ip:{client[0]}", self.by_ip, "ip"
        wait = buckets.take(name) if buckets else 0.0
        if wait > 0:
            metrics.RATE_LIMITED.labels(by).inc()
            retry = max(1, math.ceil(wait))
            await _refuse(
                send,
                429,
                "rate_limited",
                f"请求过于频繁，请{retry}秒后再试。Too many requests: retry after {retry} s.",
                request_id,
                {"retry-after": str(retry)},
            )
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, code: str, message: str, request_id: str, headers: dict[str, str]) -> None:
    raw = [(b"content-type", b"application/json")] + [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": error_bytes(code, message, request_id)})
