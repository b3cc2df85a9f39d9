"""The conversation rules shared by the Official Account and WeCom, independent of HTTP and crypto.

WeChat waits 5 seconds for a reply, then retries the same message (same MsgId) up to three times. So:
one answer per message (retries wait for the first attempt's reply), at most ``budget`` seconds per reply,
and an answer that is not ready by then goes out later — through the customer-service API when it is
configured, otherwise with the user's next message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from api import metrics
from api.wechat import text as T
from api.wechat.xml import Inbound
from rag.errors import InvalidQuestionError
from rag.types import Answer, Plan

log = logging.getLogger("planqa.wechat")

Answerer = Callable[[str, str], Answer]  # (question, sender) → answer; runs in a worker thread
Sender = Callable[[str, str], Awaitable[None]]  # (user, text) → delivered out of band

V = TypeVar("V")


class TTLCache(Generic[V]):
    """At most ``maxsize`` entries, each forgotten ``ttl`` seconds after it was set (oldest evicted first)."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize, self.ttl, self.clock = maxsize, ttl, clock
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def _expire(self) -> None:
        now = self.clock()
        while self._data and next(iter(self._data.values()))[0] <= now:
            self._data.popitem(last=False)

    def get(self, key: str) -> V | None:
        self._expire()
        item = self._data.get(key)
        return item[1] if item else None

    def set(self, key: str, value: V) -> None:
        self._expire()
        self._data.pop(key, None)
        self._data[key] = (self.clock() + self.ttl, value)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def pop(self, key: str) -> V | None:
        self._expire()
        item = self._data.pop(key, None)
        return item[1] if item else None

    def __len__(self) -> int:
        self._expire()
        return len(self._data)


class RateLimiter:
    """At most ``limit`` events per user in any ``window`` seconds; remembers at most ``max_users`` users."""

    def __init__(
        self, limit: int, window: float, max_users: int = 10_000, clock: Callable[[], float] = time.monotonic
    ):
        self.limit, self.window, self.clock = limit, window, clock
        self._users: TTLCache[deque[float]] = TTLCache(max_users, window, clock)

    def allow(self, user: str) -> float:
        """0 when allowed (and counted); otherwise the seconds until the user may ask again."""
        now = self.clock()
        stamps = self._users.get(user) or deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return stamps[0] + self.window - now
        stamps.append(now)
        self._users.set(user, stamps)
        return 0.0


@dataclass(frozen=True)
class ChannelConfig:
    budget: float = 4.5  # seconds to answer before falling back (WeChat gives up at 5)
    rate_limit: int = 10  # questions per user …
    rate_window: float = 60.0  # … per this many seconds
    dedupe_ttl: float = 300.0  # WeChat's retries come within ~15 s; keep ids well beyond that
    max_entries: int = 10_000  # bound on each per-message and per-user cache
    continuation_ttl: float = 3600.0  # how long "更多" and pending answers are kept


class Channel:
    """One account's conversation state: seen messages, per-user continuations and pending answers."""

    def __init__(
        self, plan: Plan, config: ChannelConfig | None = None, sender: Sender | None = None, name: str = "wechat"
    ) -> None:
        self.plan, self.config, self.sender, self.name = plan, config or ChannelConfig(), sender, name
        c = self.config
        self._seen: TTLCache[asyncio.Future[str | None]] = TTLCache(c.max_entries, c.dedupe_ttl)
        self._more: TTLCache[str] = TTLCache(c.max_entries, c.continuation_ttl)
        self._pending: TTLCache[asyncio.Task[str]] = TTLCache(c.max_entries, c.continuation_ttl)
        self._limiter = RateLimiter(c.rate_limit, c.rate_window, c.max_entries)
        self._background: set[asyncio.Task[None]] = set()

    async def reply(self, msg: Inbound, answerer: Answerer) -> str | None:
        """The text to reply with, or None for an empty ``success`` (the answer goes out another way).

        A retry of a message already seen gets the first attempt's reply; the answerer runs once.
        """
        first = self._seen.get(msg.dedupe_key)
        if first is not None:
            log.info("duplicate message", extra={"dedupe_key": msg.dedupe_key})
            try:
                return await asyncio.wait_for(asyncio.shield(first), self.config.budget)
            except TimeoutError:
                return None
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._seen.set(msg.dedupe_key, future)
        try:
            result = await self._reply(msg, answerer)
        except Exception as e:  # the future must settle, or retries would wait for nothing
            future.set_exception(e)
            future.exception()  # mark retrieved: the retry, if any, re-raises it
            raise
        future.set_result(result)
        return result

    async def _reply(self, msg: Inbound, answerer: Answerer) -> str | None:
        user = msg.from_user
        if msg.msg_type == "event":
            return T.WELCOME.format(title=self.plan.title or "工作要点") if msg.event == "subscribe" else None
        if msg.msg_type not in {"text", "voice"}:
            return T.ONLY_TEXT
        question = msg.content.strip()
        if not question:
            return T.NO_VOICE_TEXT if msg.msg_type == "voice" else T.ONLY_TEXT

        pending = self._pending.get(user)
        if pending is not None:  # an answer that missed the window: this message collects it
            if not pending.done():
                return T.STILL_PENDING
            self._pending.pop(user)
            self._delivered("next_message")
            return self._first_part(user, pending.result())
        if T.is_more(question):
            rest = self._more.pop(user)
            return self._first_part(user, rest) if rest else T.NO_MORE

        wait = self._limiter.allow(user)
        if wait:
            return T.RATE_LIMITED.format(seconds=max(1, round(wait)))
        task = asyncio.ensure_future(self._compose(answerer, question, user))
        try:
            text = await asyncio.wait_for(asyncio.shield(task), self.config.budget)
        except TimeoutError:
            pass
        else:
            self._delivered("passive")
            return self._first_part(user, text)
        log.info("answer missed the reply window", extra={"budget_s": self.config.budget})
        if self.sender is not None:
            self._spawn(self._deliver(user, task))
            return None
        self._pending.set(user, task)
        return T.PENDING

    async def _compose(self, answerer: Answerer, question: str, user: str) -> str:
        try:
            result = await asyncio.to_thread(answerer, question, user)
        except InvalidQuestionError as e:
            return str(e).split("。")[0] + "。请修改后再问。"  # the Chinese half of the bilingual message
        except Exception:
            log.exception("answering failed")
            return T.FAILED
        return T.compose(result, self.plan)

    def _first_part(self, user: str, text: str) -> str:
        """What fits in one message; the rest is kept for "更多"."""
        head, rest = T.split(text)
        if rest:
            self._more.set(user, rest)
        else:
            self._more.pop(user)
        return head

    async def _deliver(self, user: str, task: asyncio.Task[str]) -> None:
        assert self.sender is not None
        text = self._first_part(user, await task)
        try:
            await self.sender(user, text)
        except Exception:  # nobody awaits this task: log, and keep the answer for the next message
            log.exception("customer-service delivery failed; the answer waits for the user's next message")
            self._delivered("customer_service_failed")
            self._more.pop(user)
            self._pending.set(user, task)
        else:
            self._delivered("customer_service")

    def _delivered(self, path: str) -> None:
        """Count how an answer reached the user: passive reply, customer-service message, or next message."""
        metrics.WECHAT_DELIVERIES.labels(self.name, path).inc()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
