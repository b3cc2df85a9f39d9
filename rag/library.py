"""A library of plans behind one answering entry point: ``LibraryService.ask`` / ``.stream`` for every channel.

Each plan has its own ``AnsweringService`` (its index, its answer cache); they share the session store and the
optional LLM step. A question goes to:

1. the plan the caller names (``plan``: ``/ask``'s field, ``/v1``'s ``planqa:<id>`` model), or else
2. the plan the question names ("2022年…", "青山市…", "去年的计划里…": ``rag/routing.py``), its names taken out
   of the question before the plan's service reads it, or else
3. the conversation's plan (follow-ups stay on it), or else the default plan (``PLANQA_DEFAULT_PLAN``; unset:
   the newest plan of ``PLANQA_DEFAULT_ISSUER``, unset: of the issuer with the most plans).

A question comparing two plans ("近视防控今年和去年比有什么变化?") is answered by ``rag/yoy.py``. Every reply names
its plan (``Reply.plan``, and each citation's ``plan``/``plan_title``); in a library of several plans the text
starts with it. A library of one plan answers exactly as that plan's service does.

Plans are installed and removed while serving: the set of plans is an immutable ``Shelf`` replaced whole under a
lock, so a request reads one consistent shelf and the others keep answering while a plan is built.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Unpack

from index.catalog import PlanMeta
from index.errors import PlanConflictError, PlanNotFoundError
from index.library import Added, LoadedPlan, PlanFolder
from index.model import Plan, TaskHit
from index.normalize import normalize
from index.waiting import WouldWait, no_waiting
from rag.caches import BoundedCache
from rag.retrieve import Retriever
from rag.routing import PlanNames, Preference, Reading
from rag.service import AnsweringService, AskOptions, Channel, Reply, ReplyStream, ServiceConfig, validate_question
from rag.sessions import SessionStore, session_key
from rag.types import FollowUp

if TYPE_CHECKING:
    from index.embeddings import PlanQAEmbeddings
    from rag.generator import Generator
    from rag.yoy import Comparisons

# "2022年呢?", "那2023年的呢": nothing left but the plan's name — the question before, asked of that plan.
_BARE = re.compile(r"^(?:那|那么)?(?:的)?(?:呢|怎么样|如何|又如何|的情况呢?)?[?？。!！\s]*$")


@dataclass(frozen=True)
class LibraryConfig:
    default_plan: str = ""  # PLANQA_DEFAULT_PLAN
    default_issuer: str = ""  # PLANQA_DEFAULT_ISSUER
    current_year: int | None = None  # what "今年" means (PLANQA_CURRENT_YEAR); None: the clock's year


class LibraryAskOptions(AskOptions, total=False):
    plan: str | None  # the plan to answer from, by id (else the question's, the conversation's, the default)


@dataclass(frozen=True)
class PlanEntry:
    meta: PlanMeta
    service: AnsweringService
    loaded: LoadedPlan | None = None  # where it came from (None for a service handed in whole)

    @property
    def plan(self) -> Plan:
        return self.service.plan


@dataclass(frozen=True)
class Shelf:
    """The plans served at one moment; replaced whole when a plan is added or removed."""

    entries: dict[str, PlanEntry]
    names: PlanNames
    default: str | None
    default_issuer: str
    texts: dict[str, str] = field(default_factory=dict, repr=False)  # normalised plan text, for routing
    # Replies to standalone questions asked again word for word, with the plan that gave them: they stand as long
    # as this set of plans does (routing reads only the question and the plans).
    replies: BoundedCache[tuple[str, str | None, int | None], tuple[PlanEntry, Reply]] = field(
        default_factory=lambda: BoundedCache(0), repr=False
    )

    @property
    def metas(self) -> tuple[PlanMeta, ...]:
        return tuple(e.meta for e in self.entries.values())


class LibraryService:
    """Answers questions about the plans of a library. Safe to share between threads."""

    def __init__(
        self,
        plans: Iterable[LoadedPlan | tuple[PlanMeta, AnsweringService]],
        config: ServiceConfig | None = None,
        library: LibraryConfig | None = None,
        generator: Generator | None = None,
        sessions: SessionStore | None = None,
        folder: PlanFolder | None = None,
        embeddings: PlanQAEmbeddings | None = None,
        rebuild: bool = True,
    ) -> None:
        self.config = config or ServiceConfig()
        self.library = library or LibraryConfig()
        self.generator = generator
        self.sessions = sessions if sessions is not None else SessionStore()
        self.folder, self.embeddings, self.rebuild = folder, embeddings, rebuild
        self.on_install: Callable[[AnsweringService], None] | None = None  # e.g. metrics on each answer cache
        self._lock = threading.Lock()
        self._comparisons: Comparisons | None = None
        entries = [self._entry(p) for p in plans]
        self._shelf = self._make_shelf({e.meta.id: e for e in entries})

    @classmethod
    def single(cls, service: AnsweringService, meta: PlanMeta) -> LibraryService:
        """A one-plan library around a service built elsewhere (tests, ``PLANQA_CORPUS``)."""
        library = cls([(meta, service)], service.config, generator=service.generator, sessions=service.sessions)
        return library

    # -- the plans ------------------------------------------------------------------------------------------

    @property
    def shelf(self) -> Shelf:
        return self._shelf

    @property
    def plans(self) -> tuple[PlanMeta, ...]:
        return self._shelf.metas

    @property
    def default_plan(self) -> str | None:
        return self._shelf.default

    def entry(self, plan_id: str | None = None) -> PlanEntry:
        """The plan ``plan_id`` (the default plan when None). PlanNotFoundError when the library has none."""
        shelf = self._shelf
        key = plan_id or shelf.default
        entry = shelf.entries.get(key or "")
        if entry is None:
            if not shelf.entries:
                raise PlanNotFoundError(
                    "计划库中还没有计划。"
                    "The library holds no plan yet: add one (planqa plans add FILE, or POST /plans)."
                )
            known = ", ".join(shelf.entries)
            raise PlanNotFoundError(f"没有编号为 {plan_id} 的计划。No plan {plan_id!r} in the library; known: {known}.")
        return entry

    def service(self, plan_id: str | None = None) -> AnsweringService:
        return self.entry(plan_id).service

    def install(self, loaded: LoadedPlan) -> PlanEntry:
        """Serve ``loaded`` (replacing a plan of the same id): the new shelf is in place at once, whole."""
        entry = self._entry(loaded)
        with self._lock:
            entries = dict(self._shelf.entries)
            entries[entry.meta.id] = entry
            self._shelf = self._make_shelf(entries)
        return entry

    def uninstall(self, plan_id: str) -> None:
        with self._lock:
            entries = {k: v for k, v in self._shelf.entries.items() if k != plan_id}
            self._shelf = self._make_shelf(entries)

    def add(
        self, data: bytes, name: str, *, plan_id: str | None = None, meta: dict[str, object] | None = None,
        replace: bool = False,
    ) -> Added:  # fmt: skip
        """Check, index, store and serve a plan file (``PlanFolder.add``); the other plans answer meanwhile."""
        folder, embeddings = self._writable()
        added = folder.add(data, name, embeddings, plan_id=plan_id, meta=meta, replace=replace)
        self.install(added.plan)
        return added

    def remove(self, plan_id: str) -> None:
        """Stop serving a plan and take it out of the folder. The configured default plan cannot be removed."""
        folder, _ = self._writable()
        if plan_id == self.library.default_plan:
            raise PlanConflictError(
                f"{plan_id} 是默认计划（PLANQA_DEFAULT_PLAN），不能删除。{plan_id} is the default plan "
                "(PLANQA_DEFAULT_PLAN): set another default first."
            )
        self.entry(plan_id)
        folder.remove(plan_id)
        self.uninstall(plan_id)

    def refresh(self) -> bool:
        """Follow the plans folder (another process added or removed a plan): load what is new or changed,
        drop what is gone. True when the shelf changed."""
        if self.folder is None or self.embeddings is None:
            return False
        on_disk = self.folder.stamps()
        shelf = self._shelf
        known = {e.loaded.path: e for e in shelf.entries.values() if e.loaded is not None}
        changed = [p for p, stamp in on_disk.items() if p not in known or known[p].loaded.stamp != stamp]  # type: ignore[union-attr]
        gone = [e.meta.id for p, e in known.items() if p not in on_disk]
        if not changed and not gone:
            return False
        for plan_id in gone:
            self.uninstall(plan_id)
        for path in changed:
            self.install(self.folder.load(path, self.embeddings, self.rebuild))
        return True

    # -- answering ------------------------------------------------------------------------------------------

    def validate(self, question: str) -> str:
        return validate_question(question, self.config.max_question_chars)

    def ask(self, question: str, *, channel: Channel, **options: Unpack[LibraryAskOptions]) -> Reply:
        stream = self.stream(question, channel=channel, **options)
        for _ in stream:
            pass
        assert stream.reply is not None
        return stream.reply

    def ask_now(self, question: str, *, channel: Channel, **options: Unpack[LibraryAskOptions]) -> Reply | None:
        """``ask``, if the reply needs no waiting (see ``AnsweringService.ask_now``); else None, with nothing
        remembered. Only standalone questions: a conversation's turn changes the session store before the plan's
        service answers, so it always goes through ``ask``."""
        if options.get("conversation_id") is not None or options.get("history"):
            return None
        shelf = self._shelf
        if any(e.service.generator is not None for e in shelf.entries.values()):
            return None
        key = (question, options.get("plan"), options.get("top_k"))
        if (cached := shelf.replies.peek(key)) is not None:
            entry, reply = cached
            entry.service.answer_cache.record(hit=True)  # counted where the plan's own repeats are
            return reply
        try:
            with no_waiting():
                reply = self.ask(question, channel=channel, **options)
        except WouldWait:
            return None
        if reply.plan is not None and (answered_by := shelf.entries.get(reply.plan.id)) is not None:
            shelf.replies.put(key, (answered_by, reply))
        return reply

    def stream(self, question: str, *, channel: Channel, **options: Unpack[LibraryAskOptions]) -> ReplyStream:
        """The plan's ``AnsweringService.stream`` for the plan the question goes to (see the module's doc)."""
        shelf = self._shelf
        text = self.validate(question)
        asked = options.get("plan")
        conversation_id = options.get("conversation_id")
        key = session_key(channel.value, conversation_id) if conversation_id is not None else None
        history = options.get("history", ())
        current = self.sessions.plan(key) if key else None
        current = current if current in shelf.entries else None
        earlier: list[str] = []
        if history and len(shelf.entries) > 1:  # a client's replayed conversation: which plan it was on
            current, earlier = self._replayed_plan(shelf, history)
        elif history:
            earlier = list(history)
        reading = self._read(shelf, text, current) if len(shelf.entries) > 1 else None
        if asked is None and reading is not None:
            from rag.yoy import comparison_asked

            pair = comparison_asked(reading, shelf)
            if pair is not None:
                return self._compare(shelf, reading, pair, channel, key)
        target = self.entry(asked or (reading.plan if reading else None) or current).meta.id
        entry = shelf.entries[target]
        standalone = text
        if reading is not None and reading.plan == target:
            standalone = reading.remainder
        follow_up = None
        if key and target != current:
            previous = self.sessions.last(key)
            self.sessions.forget(key)
            if previous is not None and reading is not None and reading.plan == target and _BARE.match(standalone):
                standalone = previous.base or previous.resolved or previous.question  # "2022年呢?": of that plan
                follow_up = standalone
        if key:
            self.sessions.remember_plan(key, target)
        plain = AskOptions(
            conversation_id=conversation_id,
            history=earlier,
            top_k=options.get("top_k"),
            started=options.get("started"),
            admit=options.get("admit"),
        )
        stream = entry.service.stream(standalone, channel=channel, **plain)
        stamp = _Stamp(entry.meta, len(shelf.entries) > 1, follow_up)
        draft = stamp(stream.draft)
        return ReplyStream(draft, stamp.pieces(stream, draft), lambda: stamp(_finished(stream)), stream.cancel)

    def search(
        self, query: str, retriever: Retriever = Retriever.HYBRID, k: int = 5, plan: str | None = None
    ) -> tuple[PlanEntry, list[TaskHit]]:
        """Retrieval only, in ``plan`` (else the plan the query names, else the default)."""
        shelf = self._shelf
        text = self.validate(query)
        reading = self._read(shelf, text, None) if plan is None and len(shelf.entries) > 1 else None
        entry = self.entry(plan or (reading.plan if reading else None))
        standalone = reading.remainder if reading is not None and reading.plan == entry.meta.id else text
        return entry, entry.service.search(standalone, retriever, k)

    @property
    def comparisons(self) -> Comparisons:
        from rag.yoy import Comparisons

        if self._comparisons is None:
            self._comparisons = Comparisons(self)
        return self._comparisons

    # -- helpers --------------------------------------------------------------------------------------------

    def _read(self, shelf: Shelf, text: str, current: str | None) -> Reading:
        prefer = Preference(current=current, default=shelf.default, default_issuer=shelf.default_issuer)
        return shelf.names.read(text, prefer, lambda plan_id, words: normalize(words) in shelf.texts.get(plan_id, ""))

    def _replayed_plan(self, shelf: Shelf, history: Sequence[str]) -> tuple[str | None, list[str]]:
        """The plan a replayed conversation ended on, and its earlier questions asked of that plan."""
        current: str | None = None
        asked: list[tuple[str, str]] = []
        for earlier in history[-self.config.max_replayed_turns :]:
            try:
                text = self.validate(earlier)
            except Exception:  # noqa: BLE001  (an over-long pasted message: nothing to refer to, as the service does)
                continue
            reading = self._read(shelf, text, current)
            if reading.plan:
                current = reading.plan
            asked.append((current or shelf.default or "", reading.remainder if reading.plan else text))
        return current, [q for plan_id, q in asked if plan_id == (current or shelf.default)]

    def _compare(self, shelf: Shelf, reading: Reading, pair: tuple[str | None, str | None], channel: Channel,
                 key: str | None) -> ReplyStream:  # fmt: skip
        reply = self.comparisons.answer(reading, pair)
        if key and reply.plan is not None:
            self.sessions.forget(key)
            self.sessions.remember_plan(key, reply.plan.id)
        return ReplyStream(reply, [reply.answer.text], lambda: reply)

    def _entry(self, plan: LoadedPlan | tuple[PlanMeta, AnsweringService]) -> PlanEntry:
        if isinstance(plan, LoadedPlan):
            service = AnsweringService(plan.index, self.config, self.generator, self.sessions)
            entry = PlanEntry(plan.meta, service, plan)
        else:
            entry = PlanEntry(plan[0], plan[1])
        if self.on_install is not None:
            self.on_install(entry.service)
        return entry

    def _make_shelf(self, entries: dict[str, PlanEntry]) -> Shelf:
        ordered = dict(sorted(entries.items(), key=lambda kv: (kv[1].meta.issuer, -(kv[1].meta.year or 0), kv[0])))
        metas = [e.meta for e in ordered.values()]
        default = default_plan_id(metas, self.library)
        issuer = preferred_issuer(metas, self.library, default)
        year = self.library.current_year or time.localtime().tm_year
        texts = {k: normalize(_plan_text(e.plan)) for k, e in ordered.items()} if len(ordered) > 1 else {}
        replies: BoundedCache[tuple[str, str | None, int | None], tuple[PlanEntry, Reply]] = BoundedCache(
            self.config.answer_cache_size
        )
        return Shelf(ordered, PlanNames(metas, year), default, issuer, texts, replies)

    def _writable(self) -> tuple[PlanFolder, PlanQAEmbeddings]:
        if self.folder is None or self.embeddings is None or not self.folder.writable:
            raise PlanConflictError(
                "单计划模式（PLANQA_CORPUS）不能增删计划。This server serves one plan file: set PLANQA_PLANS to a "
                "folder of plans to add or remove plans."
            )
        return self.folder, self.embeddings


class _Stamp:
    """Names the plan on a reply: ``Reply.plan``, every citation's plan, and (several plans) the text's head."""

    def __init__(self, meta: PlanMeta, several: bool, follow_up: str | None) -> None:
        self.meta, self.several, self.follow_up = meta, several, follow_up

    def head(self, text: str) -> str:
        return "" if not self.several or f"《{self.meta.title}》" in text else f"据《{self.meta.title}》：\n"

    def __call__(self, reply: Reply) -> Reply:
        answer = reply.answer
        citations = tuple(replace(c, plan=self.meta.id, plan_title=self.meta.title) for c in answer.citations)
        answer = replace(answer, text=self.head(answer.text) + answer.text, citations=citations)
        reply = replace(reply, answer=answer, plan=self.meta)
        if self.follow_up is not None:
            reply = replace(reply, follow_up=FollowUp.PLAN, resolved_question=self.follow_up)
        return reply

    def pieces(self, stream: ReplyStream, draft: Reply) -> Iterator[str]:
        head = self.head(stream.draft.answer.text)
        if head:
            yield head
        yield from stream


def _finished(stream: ReplyStream) -> Reply:
    assert stream.reply is not None
    return stream.reply


def _plan_text(plan: Plan) -> str:
    return "\n".join([plan.title, *(t.text for t in plan.tasks), *(s.heading for s in plan.sections)])


def default_plan_id(metas: Sequence[PlanMeta], config: LibraryConfig) -> str | None:
    """PLANQA_DEFAULT_PLAN when the library has it, else the newest plan of the default issuer (PLANQA_DEFAULT_ISSUER,
    else the issuer with the most plans)."""
    if config.default_plan in {m.id for m in metas}:
        return config.default_plan
    issuer = config.default_issuer or _most_plans(metas)
    mine = [m for m in metas if m.issuer == issuer] or list(metas)
    return max(mine, key=lambda m: (m.year or 0, m.id)).id if mine else None


def preferred_issuer(metas: Sequence[PlanMeta], config: LibraryConfig, default: str | None) -> str:
    """The issuer whose plans win when a name fits several ("去年的计划里…", "2023年…"): PLANQA_DEFAULT_ISSUER, else
    the default plan's issuer (so "去年" next to PLANQA_DEFAULT_PLAN means that issuer's year before), else the
    issuer with the most plans."""
    if config.default_issuer:
        return config.default_issuer
    chosen = next((m for m in metas if m.id == default), None)
    return chosen.issuer if chosen is not None and chosen.issuer else _most_plans(metas)


def _most_plans(metas: Sequence[PlanMeta]) -> str:
    """The issuer with the most plans (ties: the one with the newest plan)."""
    counts: dict[str, list[int]] = {}
    for m in metas:
        counts.setdefault(m.issuer, []).append(m.year or 0)
    if not counts:
        return ""
    return max(counts, key=lambda i: (len(counts[i]), max(counts[i]), i))
