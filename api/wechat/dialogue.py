"""One account's dialogue with its users, shared by the Official Account and WeCom, independent of HTTP and
crypto.

WeChat waits 5 seconds for a reply, then retries the same message (same MsgId) up to three times. So:
one answer per message (retries wait for the first attempt's reply), at most ``budget`` seconds per reply,
and an answer that is not ready by then goes out later — through the customer-service API when it is
configured, otherwise with the user's next message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api import metrics
from api.wechat import replies as T
from api.wechat.xml import Inbound
from index.errors import InvalidQuestionError, PlanNotFoundError
from index.model import Plan
from rag.caches import BoundedCache
from rag.library import LibraryService
from rag.service import Channel, Reply
from rag.sessions import session_key

log = logging.getLogger("planqa.wechat")

Answerer = Callable[[str, str, Channel], Reply]  # (question, sender, channel) → reply; runs in a worker thread
Sender = Callable[[str, str], Awaitable[None]]  # (user, text) → delivered out of band


class RateLimiter:
    """At most ``limit`` events per user in any ``window`` seconds; remembers at most ``max_users`` users."""

    def __init__(self, limit: int, window: float, max_users: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._users: BoundedCache[str, deque[float]] = BoundedCache(max_users, ttl=window, clock=clock)

    def allow(self, user: str) -> float:
        """0 when allowed (and counted); otherwise the seconds until the user may ask again."""
        now = self.clock()
        stamps = self._users.get(user) or deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return stamps[0] + self.window - now
        stamps.append(now)
        self._users.put(user, stamps)
        return 0.0


@dataclass(frozen=True)
class DialogueConfig:
    budget: float = 4.5  # seconds to answer before falling back (WeChat gives up at 5)
    rate_limit: int = 10  # questions per user …
    rate_window: float = 60.0  # … per this many seconds
    dedupe_ttl: float = 300.0  # WeChat's retries come within ~15 s; keep ids well beyond that
    max_entries: int = 10_000  # bound on each per-message and per-user cache
    continuation_ttl: float = 3600.0  # how long "更多" and pending answers are kept


class Dialogue:
    """One account's conversation state: seen messages, per-user continuations and pending answers."""

    def __init__(
        self,
        library: LibraryService,
        channel: Channel = Channel.WECHAT,
        config: DialogueConfig | None = None,
        sender: Sender | None = None,
    ) -> None:
        self.library, self.channel, self.config, self.sender = library, channel, config or DialogueConfig(), sender
        c = self.config
        self._seen: BoundedCache[str, asyncio.Future[str | None]] = BoundedCache(c.max_entries, ttl=c.dedupe_ttl)
        self._more: BoundedCache[str, str] = BoundedCache(c.max_entries, ttl=c.continuation_ttl)
        self._pending: BoundedCache[str, asyncio.Task[str]] = BoundedCache(c.max_entries, ttl=c.continuation_ttl)
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
        self._seen.put(msg.dedupe_key, future)
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
            return self._welcome() if msg.event == "subscribe" else None
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
        choice = T.switch_request(question)
        if choice is not None:
            return self._switch(user, choice)

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
        self._pending.put(user, task)
        return T.PENDING

    async def _compose(self, answerer: Answerer, question: str, user: str) -> str:
        try:
            reply = await asyncio.to_thread(answerer, question, user, self.channel)
        except InvalidQuestionError as e:
            return str(e).split("。")[0] + "。请修改后再问。"  # the Chinese half of the bilingual message
        except Exception:
            log.exception("answering failed")
            return T.FAILED
        several = len(self.library.shelf.entries) > 1
        plan = self._plan_of(reply)
        text = T.compose(reply.answer, plan)
        if several and reply.plan is not None and f"《{reply.plan.title}》" not in text:
            text = f"据《{reply.plan.title}》：\n{text}"
        return text

    def _plan_of(self, reply: Reply) -> Plan:
        try:
            return self.library.entry(reply.plan.id if reply.plan else None).plan
        except PlanNotFoundError:  # the plan was removed meanwhile: lay the answer out against the default plan
            return self.library.entry().plan

    def _welcome(self) -> str:
        metas = self.library.plans
        if len(metas) <= 1:
            title = metas[0].title if metas else "工作要点"
            return T.WELCOME.format(title=title)
        return T.WELCOME_LIBRARY.format(count=len(metas), title=self.library.entry().meta.title)

    def _switch(self, user: str, choice: str) -> str:
        """ "切换计划": the plans, numbered; "切换 2" / "切换到青山2022年": the user's plan from now on (kept in the
        session store with the conversation, so it moves with it)."""
        key = session_key(self.channel.value, user)
        metas = self.library.plans
        current = self.library.sessions.plan(key) or self.library.default_plan
        if len(metas) <= 1:
            return T.ONLY_ONE_PLAN.format(title=metas[0].title if metas else "工作要点")
        chosen = None
        if choice.isdigit() and 1 <= int(choice) <= len(metas):
            chosen = metas[int(choice) - 1].id
        elif choice:
            chosen = self.library.shelf.names.read(choice).plan
        if chosen is None:
            lines = [f"{i}. 《{m.title}》" + ("（当前）" if m.id == current else "") for i, m in enumerate(metas, 1)]
            return T.PLAN_LIST.format(plans="\n".join(lines))
        if chosen != current:
            self.library.sessions.forget(key)
        self.library.sessions.remember_plan(key, chosen)
        return T.SWITCHED.format(title=self.library.entry(chosen).meta.title)

    def _first_part(self, user: str, text: str) -> str:
        """What fits in one message; the rest is kept for "更多"."""
        head, rest = T.split(text)
        if rest:
            self._more.put(user, rest)
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
            self._pending.put(user, task)
        else:
            self._delivered("customer_service")

    def _delivered(self, path: str) -> None:
        """Count how an answer reached the user: passive reply, customer-service message, or next message."""
        metrics.WECHAT_DELIVERIES.labels(self.channel.value, path).inc()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
