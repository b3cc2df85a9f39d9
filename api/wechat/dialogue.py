"""One account's dialogue with its users, shared by the Official Account and WeCom, independent of HTTP and
crypto.

WeChat waits 5 seconds for a reply, then retries the same message (same MsgId) up to three times. So:
one answer per message (retries wait for the first attempt's reply), at most ``budget`` seconds per reply,
and an answer that is not ready by then goes out later — through the customer-service API when it is
configured, otherwise with the user's next message.

Everything a later request needs lives in the shared state store (``rag/state``), so a retry or the user's next
message may land on any worker or machine: the claim on each message and its reply (``wx-seen``), each user's
「更多」 continuation (``wx-more``) and pending answer (``wx-pending``), and the per-user rate limit (``rate``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api import metrics
from api.security import TokenBuckets
from api.wechat import replies as T
from api.wechat.xml import Inbound
from index.errors import InvalidQuestionError, PlanNotFoundError, StateStoreError
from index.model import Plan
from rag.library import LibraryService
from rag.service import Channel, Reply
from rag.sessions import session_key
from rag.state import StateStore, open_state_store

log = logging.getLogger("planqa.wechat")

Answerer = Callable[[str, str, Channel], Reply]  # (question, sender, channel) → reply; runs in a worker thread
Sender = Callable[[str, str], Awaitable[None]]  # (user, text) → delivered out of band

_ANSWERING = "answering"  # a message's claim while its first attempt composes the reply


@dataclass(frozen=True)
class DialogueConfig:
    budget: float = 4.5  # seconds to answer before falling back (WeChat gives up at 5)
    rate_limit: int = 10  # questions per user …
    rate_window: float = 60.0  # … per this many seconds (a bucket of rate_limit, refilled over the window)
    dedupe_ttl: float = 300.0  # WeChat's retries come within ~15 s; keep ids well beyond that
    claim_ttl: float = 10.0  # a claim outlives its first attempt (at most ``budget``); a claim whose worker
    # died lapses by then, and a later retry (WeChat's come ~5 s apart) answers the message
    continuation_ttl: float = 3600.0  # how long "更多" and pending answers are kept
    pending_timeout: float = 120.0  # an answer still being composed this long after it was due is lost (the
    # process composing it stopped): the user's next message is answered afresh
    poll_s: float = 0.05  # how often a retry looks in the store for the first attempt's reply


class Dialogue:
    """One account's conversation state — seen messages, per-user continuations and pending answers, the
    per-user rate limit — in the shared state store."""

    def __init__(
        self,
        library: LibraryService,
        channel: Channel = Channel.WECHAT,
        config: DialogueConfig | None = None,
        sender: Sender | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.library, self.channel, self.config, self.sender = library, channel, config or DialogueConfig(), sender
        self.store = store or open_state_store("memory")
        c = self.config
        self._limiter = TokenBuckets(c.rate_limit, self.store, f"wx-{channel.value}", window=c.rate_window)
        # This process's own tasks (an answer still composing, a customer-service send): a task belongs to this
        # event loop and cannot be shared; what it produces goes to the store.
        self._background: set[asyncio.Task[None]] = set()

    def _key(self, space: str, rest: str) -> str:
        return f"wx-{space}:{self.channel.value}:{rest}"

    async def reply(self, msg: Inbound, answerer: Answerer, arrived: float | None = None) -> str | None:
        """The text to reply with, or None for an empty ``success`` (the answer goes out another way).

        The first attempt to claim the message in the store answers it; a retry — on this worker or another —
        waits (up to ``budget``) for that reply in the store and returns the same text. The answerer runs once.
        ``arrived`` (``time.monotonic()``) is when the request reached the server — the edge stamps it before
        routing, body and signature, which on a busy machine took up to 0.25 s — and the budget counts from it.
        """
        key = self._key("seen", msg.dedupe_key)
        give_up = (time.monotonic() if arrived is None else arrived) + self.config.budget
        duplicate = False
        while not self.store.add(key, _ANSWERING, self.config.claim_ttl):
            if not duplicate:
                duplicate = True
                log.info("duplicate message", extra={"dedupe_key": msg.dedupe_key})
                metrics.WECHAT_DUPLICATES.labels(self.channel.value).inc()
            stored = self.store.get(key)
            if stored is not None and stored != _ANSWERING:
                reply: str | None = json.loads(stored)["reply"]
                return reply
            if time.monotonic() >= give_up:
                return None
            if stored == _ANSWERING:
                await asyncio.sleep(self.config.poll_s)
            # None: the first attempt failed and let go of the claim (or it expired): claim it again
        try:
            result = await self._reply(msg, answerer, give_up)
        except BaseException:
            self.store.delete(key)  # the attempt failed: let a retry answer the message
            raise
        self.store.set(key, json.dumps({"reply": result}, ensure_ascii=False), self.config.dedupe_ttl)
        return result

    async def _reply(self, msg: Inbound, answerer: Answerer, give_up: float) -> str | None:
        """The reply to ``msg``; an answer not composed by ``give_up`` (monotonic time: the budget counted from
        the message's arrival, store look-ups included) goes out another way."""
        user = msg.from_user
        if msg.msg_type == "event":
            return self._welcome() if msg.event == "subscribe" else None
        if msg.msg_type not in {"text", "voice"}:
            return T.ONLY_TEXT
        question = msg.content.strip()
        if not question:
            return T.NO_VOICE_TEXT if msg.msg_type == "voice" else T.ONLY_TEXT

        collected = self._collect(user)
        if collected is not None:  # an answer that missed the window: this message collects it
            return collected
        if T.is_more(question):
            rest = self.store.take(self._key("more", user))
            return self._first_part(user, rest) if rest else T.NO_MORE
        choice = T.switch_request(question)
        if choice is not None:
            return self._switch(user, choice)

        wait = self._limiter.take(user)
        if wait:
            return T.RATE_LIMITED.format(seconds=max(1, round(wait)))
        task = asyncio.ensure_future(self._compose(answerer, question, user))
        try:
            text = await asyncio.wait_for(asyncio.shield(task), max(0.0, give_up - time.monotonic()))
        except TimeoutError:
            pass
        else:
            self._delivered("passive")
            return self._first_part(user, text)
        log.info("answer missed the reply window", extra={"budget_s": self.config.budget})
        if self.sender is not None:
            self._spawn(self._deliver(user, task))
            return None
        composing = {"text": None, "until": time.time() + self.config.pending_timeout}
        self.store.set(self._key("pending", user), json.dumps(composing), self.config.continuation_ttl)
        self._spawn(self._park(user, task))
        return T.PENDING

    def _collect(self, user: str) -> str | None:
        """The user's pending answer, when there is one: its first part once ready (taken from the store, so
        only one message collects it), STILL_PENDING while it is composed; None when there is none, or when
        the process composing it stopped long ago."""
        key = self._key("pending", user)
        stored = self.store.get(key)
        if stored is None:
            return None
        pending = json.loads(stored)
        if pending["text"] is None and time.time() < pending["until"]:
            return T.STILL_PENDING
        taken = self.store.take(key)
        text = json.loads(taken)["text"] if taken is not None else None
        if text is None:
            return None
        self._delivered("next_message")
        return self._first_part(user, text)

    async def _park(self, user: str, task: asyncio.Task[str]) -> None:
        """Keep a late answer in the store for the user's next message, wherever it lands."""
        self._keep_pending(user, await task)

    def _keep_pending(self, user: str, text: str) -> None:
        try:
            self.store.set(self._key("pending", user), json.dumps({"text": text}), self.config.continuation_ttl)
        except StateStoreError:  # nobody awaits this: say so; the user's next message is answered afresh
            log.exception("a late answer could not be kept for the user's next message")

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
            self.store.set(self._key("more", user), rest, self.config.continuation_ttl)
        else:
            self.store.delete(self._key("more", user))
        return head

    async def _deliver(self, user: str, task: asyncio.Task[str]) -> None:
        assert self.sender is not None
        answer = await task
        try:
            await self.sender(user, self._first_part(user, answer))
        except Exception:  # nobody awaits this task: log, and keep the answer for the next message
            log.exception("customer-service delivery failed; the answer waits for the user's next message")
            self._delivered("customer_service_failed")
            try:
                self.store.delete(self._key("more", user))
            except StateStoreError:
                pass  # the answer itself is kept below, or that fails and says so
            self._keep_pending(user, answer)
        else:
            self._delivered("customer_service")

    def _delivered(self, path: str) -> None:
        """Count how an answer reached the user: passive reply, customer-service message, or next message."""
        metrics.WECHAT_DELIVERIES.labels(self.channel.value, path).inc()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
