"""Access control: who the client is, API keys and rate limits. Decided once per request by the edge layer
(``api/edge.py``), in front of every route but the exempt ones.

- The client's address is the socket peer; when the peer is one of ``PLANQA_TRUSTED_PROXIES`` (addresses or
  networks), it is the nearest address in ``X-Forwarded-For`` that is not a trusted proxy. A client cannot
  choose its own address by sending the header: only hops added by trusted proxies are believed.
- ``PLANQA_API_KEYS`` (comma-separated): when set, every route except ``/health``, ``/ready``, the page
  (``/``, ``/static/…``) and the WeChat callbacks (which carry their own signatures) needs
  ``Authorization: Bearer <key>``. Keys are compared in constant time.
- Rate limits (token buckets, requests per minute; 0 turns one off): per key for requests with a valid key, per
  client address otherwise. Over the limit: 429 with ``Retry-After``.
- Failed keys are counted per client address (``PLANQA_RATE_LIMIT_AUTH_FAILURES`` a minute): past that, the
  address gets 429 before its key is even compared, until its bucket refills — keys cannot be guessed at speed.
- The buckets live in the shared state store (``rag/state``): every worker and machine counts against the same
  ones. An API key is named there by a digest, never as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.state import StateStore, StateStoreConfig, open_state_store

EXEMPT_EXACT = frozenset({"/health", "/ready", "/", "/favicon.ico", "/wechat", "/wecom"})
EXEMPT_PREFIXES = ("/static/",)
_MAX_BUCKETS = 50_000  # buckets an in-memory store keeps (ip, key and auth together), the longest idle first
_MAX_FORWARDED_HOPS = 20  # X-Forwarded-For entries read, from the right

INVALID_KEY_MESSAGE = (
    "API密钥无效或缺失：请在请求头中提供 Authorization: Bearer <密钥>。"
    "Missing or invalid API key: send Authorization: Bearer <key> with a key from PLANQA_API_KEYS."
)


def is_exempt(path: str) -> bool:
    """Probes, the page and the WeChat callbacks: no key, no rate limit."""
    return path in EXEMPT_EXACT or path.startswith(EXEMPT_PREFIXES)


def key_matches(given: str, keys: tuple[str, ...]) -> bool:
    """Compare ``given`` with every key, each in constant time: timing tells nothing of a near match."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.encode())
    return matched


def bearer(headers: dict[bytes, bytes]) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; "" for anything else."""
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class TokenBuckets:
    """One bucket per name, in the shared state store (so every worker and machine counts together): ``limit``
    requests per ``window`` seconds, bursting up to ``limit``. A bucket left alone refills and is forgotten."""

    def __init__(
        self,
        limit: int,
        store: StateStore | None = None,
        name: str = "api",
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.capacity = float(limit)
        self.rate = limit / window
        self.store = store or open_state_store("memory", StateStoreConfig(default_cap=_MAX_BUCKETS))
        self.prefix = f"rate:{name}:"
        self.clock = clock  # wall-clock seconds: the buckets are compared across processes and machines

    def take(self, name: str, now: float | None = None) -> float:
        """0 if a request may go now (and it takes a token), else the seconds to wait."""
        return self.store.bucket(self.prefix + name, self.capacity, self.rate, self._now(now), consume=True)

    def wait(self, name: str, now: float | None = None) -> float:
        """The seconds until ``name`` has a token again (0 if it has one now); takes nothing."""
        return self.store.bucket(self.prefix + name, self.capacity, self.rate, self._now(now), consume=False)

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now


class TrustedProxies:
    """Which peers may tell us the client's address (``X-Forwarded-For``): addresses or networks."""

    def __init__(self, spec: str) -> None:
        self.exact: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            network = ipaddress.ip_network(item, strict=False)  # ValueError names a bad entry
            if network.num_addresses == 1:
                self.exact.add(str(network.network_address))
            else:
                self.networks.append(network)

    def __bool__(self) -> bool:
        return bool(self.exact or self.networks)

    def trusts(self, address: str) -> bool:
        if address in self.exact:
            return True
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded: bytes | None) -> str:
        """The client's address: the peer, or, from a trusted peer, the nearest untrusted forwarded hop."""
        if not forwarded or not self.trusts(peer):
            return peer
        address = peer
        hops = forwarded.decode("latin-1").split(",")[-_MAX_FORWARDED_HOPS:]
        for hop in reversed(hops):
            hop = hop.strip()
            try:
                hop = str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage in the chain: believe only what the trusted proxy itself added
            address = hop
            if not self.trusts(hop):
                return hop
        return address


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away before any route runs."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[bytes, bytes], ...]
    limited_by: str | None = None  # the rate limit that refused it: ip, key or auth


def _rate_limited(wait: float, by: str) -> Refusal:
    retry = max(1, math.ceil(wait))
    message = f"请求过于频繁，请{retry}秒后再试。Too many requests: retry after {retry} s."
    return Refusal(429, "rate_limited", message, ((b"retry-after", str(retry).encode()),), by)


class AccessControl:
    """API keys and rate limits for non-exempt routes."""

    def __init__(
        self, keys: tuple[str, ...], per_key: int, per_ip: int, auth_failures: int, store: StateStore | None = None
    ) -> None:
        self.keys = keys
        store = store or open_state_store("memory", StateStoreConfig(default_cap=_MAX_BUCKETS))
        self.by_key = TokenBuckets(per_key, store, "key") if per_key > 0 else None
        self.by_ip = TokenBuckets(per_ip, store, "ip") if per_ip > 0 else None
        self.failures = TokenBuckets(auth_failures, store, "auth") if auth_failures > 0 and keys else None

    def check(self, token: str, client: str, now: float | None = None) -> Refusal | None:
        """None if the request may go on; otherwise the refusal to send."""
        if self.keys:
            if self.failures is not None and (wait := self.failures.wait(client, now)) > 0:
                return _rate_limited(wait, "auth")  # too many wrong keys from here: not even compared
            if not (token and key_matches(token, self.keys)):
                if self.failures is not None:
                    self.failures.take(client, now)
                return Refusal(401, "invalid_api_key", INVALID_KEY_MESSAGE, ((b"www-authenticate", b"Bearer"),))
            if self.by_key is not None:
                wait = self.by_key.take(_digest(token), now)
                return _rate_limited(wait, "key") if wait > 0 else None
        if self.by_ip is not None and (wait := self.by_ip.take(client, now)) > 0:
            return _rate_limited(wait, "ip")
        return None


def _digest(token: str) -> str:
    """An API key as the buckets name it: a shared store (Redis) may be read by others, a key must not be."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
