"""The answering service: the one way a question becomes an answer, for every channel.

``/ask``, ``/ask/stream``, ``/v1/chat/completions``, WeChat, WeCom, the CLI and ``planqa eval`` all call
``AnsweringService.ask`` (or ``stream``, the same steps yielding text as it is ready):

1. validate the question (``MAX_QUESTION_CHARS``, in ``rag/limits.py``);
2. read it against the conversation's previous turn (a stored one by id, or a client's replayed history):
   ``rag.followup`` + ``rag.turns``;
3. compose the extractive answer from the plan (``rag.answer``: query analysis, retrieval, composition),
   through the answer cache;
4. present it with inline 【第N项】 marks (``rag.present``), and, when an LLM is configured and the answer
   found something, let the model rewrite it within the channel's time budget (``rag.generator``), checked.

Channels only format what comes back: a ``Reply`` whose ``answer.text`` is the text every channel shows.

What the service keeps, all bounded and belonging to the loaded index (a rebuilt index comes with a new
service, so nothing stale is ever served): the last turn of each conversation; answers to standalone
questions (``answer_cache``); whole replies to repeated standalone questions (``reply_cache``); query vectors,
keyed by the question's topic (``index.embeddings``, a ``QueryVectors``: "谁负责近视防控?" and
"近视防控归谁管?" are embedded once, as 近视防控).

``ask_now`` answers without waiting when it can (a cached reply, a lookup, a vector already known) and says
so with None otherwise: an event loop calls it first and hands the rest to a worker thread (``ask``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, TypedDict, Unpack

from index.catalog import PlanMeta
from index.embeddings import QueryVectors
from index.errors import InvalidQuestionError
from index.model import Numbering, Plan, TaskHit
from index.normalize import fold, normalize
from index.store import PlanIndex
from index.waiting import WouldWait, no_waiting
from rag.answer import AnswerConfig, answer
from rag.caches import BoundedCache
from rag.limits import (
    ANSWER_CACHE_SIZE,
    LLM_BUDGET_OPENAI_S,
    LLM_BUDGET_WEB_S,
    LLM_BUDGET_WECHAT_S,
    MAX_CONVERSATION_TURNS,
    MAX_QUESTION_CHARS,
    QUERY_VECTOR_CACHE_SIZE,
)
from rag.present import highlight_terms, sentence_pieces, with_inline_citations
from rag.query import analyze
from rag.retrieve import Retriever, search
from rag.sessions import SessionStore, session_key
from rag.turns import converse
from rag.types import Answer, Comparison, FollowUp, Turn

if TYPE_CHECKING:  # the LLM client (openai, langchain prompts) loads only when an LLM is configured
    from rag.answer_stream import Generation
    from rag.generator import Generator


class Channel(StrEnum):
    """Where a question comes from: decides the LLM's time budget and namespaces conversations."""

    WEB = "web"  # /ask, /ask/stream and the page
    OPENAI = "openai"  # /v1/chat/completions
    WECHAT = "wechat"  # 公众号: WeChat drops a reply that takes over 5 s
    WECOM = "wecom"  # 企业微信, the same window
    CLI = "cli"
    EVAL = "eval"


@dataclass(frozen=True)
class Budgets:
    """Seconds the LLM may take, counted from the request's arrival, per channel."""

    web: float = LLM_BUDGET_WEB_S
    wechat: float = LLM_BUDGET_WECHAT_S
    openai: float = LLM_BUDGET_OPENAI_S

    def of(self, channel: Channel) -> float:
        if channel in (Channel.WECHAT, Channel.WECOM):
            return self.wechat
        return self.openai if channel is Channel.OPENAI else self.web


@dataclass(frozen=True)
class ServiceConfig:
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    max_question_chars: int = MAX_QUESTION_CHARS
    answer_cache_size: int = ANSWER_CACHE_SIZE  # answers and replies; 0: none (the evaluation measures each
    # question's work)
    query_vector_cache_size: int = QUERY_VECTOR_CACHE_SIZE  # query vectors by topic; 0: none
    batch_queries: bool = True  # concurrent queries' vectors in one model call
    max_replayed_turns: int = MAX_CONVERSATION_TURNS  # user messages of a client's history read, the last ones
    budgets: Budgets = field(default_factory=Budgets)


class AskOptions(TypedDict, total=False):
    """How a question is asked, besides its text and channel."""

    conversation_id: str | None  # a stored conversation (namespaced by channel): follow-ups read its last turn
    history: Sequence[str]  # or the earlier questions, oldest first, from a client that keeps the conversation
    top_k: int | None  # citations at most (default: the service's)
    started: float | None  # time.perf_counter() at the request's arrival: the LLM budget counts from it
    # Called once, before an answer is handed to the LLM (never for an extractive one); it may raise to refuse
    # the question (a server at its limit of LLM streams), and then nothing of the question is remembered.
    admit: Callable[[], None] | None


@dataclass(frozen=True)
class Reply:
    """What every channel gets back: the answer as shown (inline 【第N项】 marks, mode set) and how the
    question was read."""

    answer: Answer
    follow_up: FollowUp = FollowUp.NONE
    resolved_question: str | None = None  # how a follow-up was understood, when it was rewritten
    highlight: tuple[str, ...] = ()  # question words worth highlighting in the cited text
    conversation_id: str | None = None
    generation: Generation | None = None  # what the LLM did, when it was asked
    plan: PlanMeta | None = None  # the plan answered from (set by the library, rag/library.py)
    comparison: Comparison | None = None  # a year-over-year answer's plans and changes (rag/yoy.py)


class ReplyStream:
    """The text of a reply as it becomes ready. ``draft`` (everything but the final text) is known at once;
    iterate for the pieces; once exhausted, ``reply`` is the final ``Reply`` (its text is the pieces joined)."""

    def __init__(
        self,
        draft: Reply,
        pieces: Iterable[str],
        finish: Callable[[], Reply],
        cancel: Callable[[], None] | None = None,
    ) -> None:
        self.draft = draft
        self.reply: Reply | None = None
        self._pieces, self._finish, self._cancel = pieces, finish, cancel

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.reply = self._finish()

    def cancel(self) -> None:
        """The reader has gone: stop the LLM at its next token (thread-safe; nothing to stop when extractive)."""
        if self._cancel is not None:
            self._cancel()


def validate_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question folded and stripped; InvalidQuestionError when empty or longer than ``max_chars``
    characters (characters, not bytes: 500 Chinese characters are 1,500 bytes of UTF-8)."""
    text = fold(question) if isinstance(question, str) else ""
    if not text:
        raise InvalidQuestionError("问题不能为空。The question is empty: ask something about the plan.")
    if len(question) > max_chars:
        raise InvalidQuestionError(
            f"问题过长（{len(question)}字，上限{max_chars}字）。The question has {len(question)} characters; "
            f"the limit is {max_chars}: shorten it."
        )
    return text


class AnsweringService:
    """Answers questions about the plan in ``index``. Safe to share between threads."""

    def __init__(
        self,
        index: PlanIndex,
        config: ServiceConfig | None = None,
        generator: Generator | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        self.config = config or ServiceConfig()
        model = index.embeddings.model if isinstance(index.embeddings, QueryVectors) else index.embeddings
        # The dense half of retrieval embeds a question's topic, through this service's own vector cache.
        vectors = QueryVectors(
            model, key=self.topic, size=self.config.query_vector_cache_size, batch=self.config.batch_queries
        )
        self.index = replace(index, embeddings=vectors)
        self.generator = generator
        self.sessions = sessions if sessions is not None else SessionStore()
        # Answers to standalone questions, by normalised question (what a follow-up resolves to lands here too).
        self.answer_cache: BoundedCache[tuple[str, int], Answer] = BoundedCache(self.config.answer_cache_size)
        # Whole replies to standalone questions asked again word for word, by question as asked.
        self.reply_cache: BoundedCache[tuple[str, int], Reply] = BoundedCache(self.config.answer_cache_size)

    @property
    def plan(self) -> Plan:
        return self.index.plan

    def validate(self, question: str) -> str:
        """The question folded and stripped; InvalidQuestionError when empty or over the length limit."""
        return validate_question(question, self.config.max_question_chars)

    def topic(self, text: str) -> str:
        """What a question is about, as the dense model sees it: "谁负责近视防控?" → "近视防控"."""
        query = analyze(text, self.plan)
        return query.topic or query.normalized

    def ask(self, question: str, *, channel: Channel, **options: Unpack[AskOptions]) -> Reply:
        """Answer ``question``: within the stored conversation ``conversation_id``, or after the earlier
        questions ``history`` (a client that sends the whole conversation), or standalone."""
        if (cached := self._repeated(question, options)) is not None:
            return cached
        stream = self.stream(question, channel=channel, **options)
        for _ in stream:
            pass
        assert stream.reply is not None
        return stream.reply

    def ask_now(self, question: str, *, channel: Channel, **options: Unpack[AskOptions]) -> Reply | None:
        """``ask``, if the reply needs no waiting — no query vector to compute, no dictionary still loading, no
        LLM to call; else None, and nothing is remembered or counted (then call ``ask`` from a worker thread).
        Raises as ``ask`` does."""
        if self.generator is not None:
            return None
        if (cached := self._repeated(question, options)) is not None:
            return cached  # the commonest case, without entering the no-waiting block
        try:
            with no_waiting():
                return self.ask(question, channel=channel, **options)
        except WouldWait:
            return None

    def stream(self, question: str, *, channel: Channel, **options: Unpack[AskOptions]) -> ReplyStream:
        """``ask``, yielding the text as it is ready. An invalid question raises before anything is yielded."""
        started = options.get("started")
        started = time.perf_counter() if started is None else started
        if (cached := self._repeated(question, options)) is not None:
            return ReplyStream(cached, sentence_pieces(cached.answer.text), lambda: cached)
        top_k = options.get("top_k") or self.config.answer.top_k
        conversation_id = options.get("conversation_id")
        history = options.get("history", ())
        generator = self.generator
        standalone = conversation_id is None and not history and generator is None
        text = self.validate(question)
        key = session_key(channel.value, conversation_id) if conversation_id is not None else None
        previous = self.sessions.last(key) if key else self._replay(history, top_k)
        turn = converse(self.plan, self.compose, previous, text, top_k)
        # The LLM cites tasks as 【第N项】 by number: a plan numbered per section (第三部分第2项) stays extractive.
        per_section = self.plan.numbering is Numbering.PER_SECTION
        generating = generator is not None and generator.applies(turn.answer) and not per_section
        admit = options.get("admit")
        if generating and admit is not None:
            admit()  # may refuse: before the turn is remembered, so a retry reads as the same question
        draft = self._draft(turn, conversation_id)  # before remembering: ask_now may still give up in here
        if key:
            self.sessions.remember(key, turn)
        if standalone:
            self.reply_cache.put((question, top_k), draft)
        if generator is None or not generating:
            return ReplyStream(draft, sentence_pieces(draft.answer.text), lambda: draft)
        remaining = max(self.config.budgets.of(channel) - (time.perf_counter() - started), 0.1)
        generated = generator.stream(self.plan, turn.answer, remaining, present=with_inline_citations)

        def finish() -> Reply:
            assert generated.answer is not None
            return replace(draft, answer=generated.answer, generation=generated.generation)

        return ReplyStream(draft, generated, finish, cancel=getattr(generated, "cancel", None))

    def _repeated(self, question: str, options: AskOptions) -> Reply | None:
        """The reply to a standalone question asked before word for word (no conversation, no LLM)."""
        if self.generator is not None or options.get("conversation_id") is not None or options.get("history"):
            return None
        cached = self.reply_cache.peek((question, options.get("top_k") or self.config.answer.top_k))
        if cached is not None:
            self.answer_cache.record(hit=True)
        return cached

    def compose(self, question: str, top_k: int) -> Answer:
        """The extractive answer to a standalone question, from the cache when asked before. The look-up is
        counted once its outcome stands (``ask_now`` may give up half-way, and ``ask`` then looks again)."""
        key = (normalize(question), top_k)
        cached = self.answer_cache.peek(key)
        hit = cached is not None
        if cached is None:
            cached = answer(self.index, question, self.config.answer, top_k)
            self.answer_cache.put(key, cached)
        self.answer_cache.record(hit)
        return cached if cached.question == question else replace(cached, question=question)

    def search(self, query: str, retriever: Retriever = Retriever.HYBRID, k: int = 5) -> list[TaskHit]:
        """Retrieval only: tasks with their matching sentences, best first."""
        text = self.validate(query)
        return search(self.index, text, replace(self.config.answer.retrieval, retriever=retriever))[:k]

    def _replay(self, history: Sequence[str], top_k: int) -> Turn | None:
        """The last turn of a conversation given only its earlier questions, oldest first."""
        previous: Turn | None = None
        for earlier in history[-self.config.max_replayed_turns :]:
            try:
                text = self.validate(earlier)
            except InvalidQuestionError:
                continue  # an earlier message too long to be a question (a pasted document): nothing to refer to
            previous = converse(self.plan, self.compose, previous, text, top_k)
        return previous

    def _draft(self, turn: Turn, conversation_id: str | None) -> Reply:
        shown = replace(turn.answer, text=with_inline_citations(turn.answer))
        resolved = turn.resolved if turn.resolved and turn.resolved != turn.question else None
        highlight = highlight_terms(self.index, turn.resolved, turn.answer)
        return Reply(shown, turn.follow_up, resolved, highlight, conversation_id)


__all__ = ["AnsweringService", "AskOptions", "Budgets", "Channel", "Reply", "ReplyStream", "ServiceConfig"]
