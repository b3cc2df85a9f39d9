"""Conversations: follow-up questions resolved against the turn before, without an LLM.

A follow-up is read from its wording and from what the previous turn answered (its intent and citations):

- "那它的牵头单位是谁?"  → the lead unit of the task the previous answer was about;
- "第二个呢?"            → the second citation of the previous list, asked the way the list was asked;
- "还有哪些?"            → further tasks for the previous question, leaving out those already shown;
- "这项任务的原文"       → the whole text of that task, as written;
- "课后服务呢?"          → the previous question with its topic replaced ("谁负责近视防控?" → "谁负责课后服务?").

Anything else is answered as a standalone question. "第二项" keeps meaning task 2 (the plan numbers its tasks
that way); "第二个" means the second item of the previous answer.

Conversations live in a ``ConversationStore``: bounded in number (least recently used dropped first) and in
turns, and forgotten ``ttl_seconds`` after their last turn. Channels (the page, WeChat with the sender's
OpenID, the OpenAI-compatible endpoint) call ``ask_in_conversation``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from index.store import PlanIndex
from rag.answer import AnswerConfig, answer, citation, units_phrase, validate_question
from rag.errors import InvalidConversationError, InvalidQuestionError
from rag.query import analyze
from rag.text import CN_NUMERAL_CHARS, normalize, parse_cn_number
from rag.types import Answer, Intent, Plan, Task

_ID = re.compile(r"[A-Za-z0-9_\-.:@=+/]{1,128}")


class FollowUp(StrEnum):
    NONE = "none"  # a standalone question
    LEAD = "lead"  # 那它的牵头单位是谁?
    ITEM = "item"  # 第二个呢?
    MORE = "more"  # 还有哪些?
    ORIGINAL = "original"  # 这项任务的原文
    TOPIC = "topic"  # 课后服务呢?


@dataclass(frozen=True)
class Turn:
    """One question and its answer, with what later follow-ups may refer to."""

    question: str  # as asked
    resolved: str  # the standalone question answered; "" when answered straight from the plan
    follow_up: FollowUp
    answer: Answer
    asks: Intent  # what was asked of the task(s): who / task / fact …, reused by "第二个呢?"
    topic: str = ""  # what the question was about, replaced by "X呢?"
    base: str = ""  # the standalone question "还有哪些?" asks again
    listing: tuple[int, ...] = ()  # task numbers "第二个" counts in
    shown: tuple[int, ...] = ()  # tasks already cited for ``base``
    focus: int | None = None  # the task "它" / "这项任务" means


@dataclass(frozen=True)
class ConversationConfig:
    ttl_seconds: float = 1800.0  # forgotten this long after the last turn
    max_conversations: int = 10_000  # the least recently used is dropped beyond this
    max_turns: int = 20  # older turns are dropped beyond this


# Words that point back at the previous answer.
_REFERENCE = re.compile(r"(?:这|该|此|那)(?:一)?(?:项|个|条)任务|它|其(?![他它中余实])|这项|该项|此项|那项|这一项|这个|那个|这条|该条|上述|上面|刚才|前面|这些|该任务")
_WHO = re.compile(r"谁|牵头|责任单位|负责单位|主责|哪(?:个|些|一个)?(?:科室|部门|单位|处室)|配合单位|who", re.I)
_ORIGINAL = re.compile(r"原文|全文|完整(?:内容|文本|表述|的)?|详细内容|具体内容|详细(?:说说|讲讲|看看|介绍)|展开")
# 第二个 / 第2个 / 最后一个, but not 第二个任务 (task 2, as query analysis reads it).
_ORDINAL = re.compile(rf"第\s*([0-9]{{1,2}}|[{CN_NUMERAL_CHARS}]{{1,3}})\s*个(?!任务|事项|工作)|(最后一个|最后那个)")
_MORE = re.compile(
    r"^(?:那|那么|请问)?(?:还有|还有没有|还有别的|其他|其它|别的|另外|更多)(?:的)?"
    r"(?:哪些|什么|吗|呢|没有|任务|工作|内容|相关|事项|单位|的|吧)*$"
)
_ELLIPSIS = re.compile(r"^(?:那|那么|还有|那请问)?(.{1,20}?)(?:的)?呢$")
_QUESTION_WORDS = re.compile(r"谁|哪|什么|多少|几|怎么|如何|是否|吗")
_TRAILING = re.compile(r"[?？!！。.,，~～\s]+$")


def resolve(question: str, previous: Turn | None, plan: Plan) -> tuple[FollowUp, str, int | None]:
    """How to read ``question`` after ``previous``: (kind, standalone question, task referred to)."""
    text = _TRAILING.sub("", normalize(question))
    query = analyze(text, plan)
    if _ORIGINAL.search(text) and query.intent is Intent.TASK and query.task_number is not None:
        return FollowUp.ORIGINAL, "", query.task_number  # "第8项的原文" needs no previous turn
    if _WHO.search(text) and query.intent is Intent.TASK and query.task_number is not None:
        return FollowUp.LEAD, "", query.task_number  # nor does "第8项的牵头单位是谁"
    if previous is None:
        return FollowUp.NONE, question, None

    ordinal = _ORDINAL.search(text)
    if ordinal:
        position = len(previous.listing) if ordinal.group(2) else parse_cn_number(ordinal.group(1)) or 0
        task = previous.listing[position - 1] if 1 <= position <= len(previous.listing) else -position
        if _ORIGINAL.search(text):
            return FollowUp.ORIGINAL, "", task
        if _WHO.search(text) or previous.asks is Intent.WHO:
            return FollowUp.LEAD, "", task
        return FollowUp.ITEM, "", task

    refers = bool(_REFERENCE.search(text)) or len(text) <= 8
    if previous.focus is not None and query.intent is not Intent.TASK and refers:
        if _ORIGINAL.search(text):
            return FollowUp.ORIGINAL, "", previous.focus
        if _WHO.search(text) and not _has_topic(text, plan):
            return FollowUp.LEAD, "", previous.focus
    if _MORE.match(text) and previous.base:
        return FollowUp.MORE, previous.base, None

    ellipsis = _ELLIPSIS.match(text)
    if ellipsis and not _QUESTION_WORDS.search(ellipsis.group(1)):
        return _topic_follow_up(ellipsis.group(1), previous, plan)
    return FollowUp.NONE, question, None


def converse(
    index: PlanIndex,
    history: Sequence[Turn],
    question: str,
    config: AnswerConfig | None = None,
    top_k: int | None = None,
) -> Turn:
    """Answer ``question`` as the next turn after ``history`` (oldest first). Pure: stores nothing."""
    config = config or AnswerConfig()
    validate_question(question, config.max_question_chars)
    previous = history[-1] if history else None
    kind, resolved, task_number = resolve(question, previous, index.plan)
    plan = index.plan

    if kind is FollowUp.MORE and previous is not None:
        result = _more(index, previous, question, config, top_k)
    elif kind in (FollowUp.LEAD, FollowUp.ITEM, FollowUp.ORIGINAL):
        task = plan.task(task_number) if task_number is not None and task_number > 0 else None
        if task is None:
            result = _no_such_item(question, task_number, previous)
        elif kind is FollowUp.LEAD:
            result = lead_answer(plan, task, question)
        elif kind is FollowUp.ORIGINAL:
            result = original_answer(plan, task, question)
        else:
            result = replace(answer(index, f"第{task.number}项任务是什么", config, top_k), question=question)
    else:
        result = replace(answer(index, resolved, config, top_k), question=question)
    return _turn(index.plan, question, resolved, kind, result, previous)


def replay(
    index: PlanIndex, questions: Iterable[str], config: AnswerConfig | None = None, top_k: int | None = None
) -> Turn:
    """The last turn of a conversation given only its questions (stateless clients send the whole history)."""
    questions = list(questions)
    if not questions:
        validate_question("")
    turns: list[Turn] = []
    for q in questions[:-1]:
        try:
            turns.append(converse(index, turns[-1:], q, config, top_k))
        except InvalidQuestionError:
            continue  # an earlier message too long to be a question (a pasted document): nothing to refer to
    return converse(index, turns[-1:], questions[-1], config, top_k)


class ConversationStore:
    """Conversations by id, in memory, safe to share between threads. One process; not shared by workers."""

    def __init__(self, config: ConversationConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or ConversationConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, deque[Turn]]] = OrderedDict()

    def history(self, conversation_id: str) -> tuple[Turn, ...]:
        """The conversation's turns, oldest first; empty when unknown or expired."""
        check_conversation_id(conversation_id)
        with self._lock:
            self._expire()
            item = self._items.get(conversation_id)
            return tuple(item[1]) if item else ()

    def append(self, conversation_id: str, turn: Turn) -> None:
        check_conversation_id(conversation_id)
        with self._lock:
            self._expire()
            _, turns = self._items.pop(conversation_id, (0.0, deque(maxlen=self.config.max_turns)))
            turns.append(turn)
            self._items[conversation_id] = (self._clock(), turns)
            while len(self._items) > self.config.max_conversations:
                self._items.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._items.pop(conversation_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _expire(self) -> None:
        # Ordered by last activity, so the expired ones are all at the front.
        cutoff = self._clock() - self.config.ttl_seconds
        while self._items:
            first = next(iter(self._items.values()))
            if first[0] > cutoff:
                break
            self._items.popitem(last=False)


def take_turn(
    store: ConversationStore,
    index: PlanIndex,
    conversation_id: str,
    question: str,
    config: AnswerConfig | None = None,
    top_k: int | None = None,
) -> Turn:
    """Answer ``question`` within the conversation and remember the turn."""
    turn = converse(index, store.history(conversation_id), question, config, top_k)
    store.append(conversation_id, turn)
    return turn


def ask_in_conversation(
    store: ConversationStore,
    index: PlanIndex,
    conversation_id: str,
    question: str,
    config: AnswerConfig | None = None,
    top_k: int | None = None,
) -> Answer:
    """The entry point for channels: WeChat passes the sender's OpenID as ``conversation_id``."""
    return take_turn(store, index, conversation_id, question, config, top_k).answer


def check_conversation_id(conversation_id: str) -> str:
    if not isinstance(conversation_id, str) or not _ID.fullmatch(conversation_id):
        raise InvalidConversationError(
            "会话编号无效：应为1–128个字母、数字或 -_.:@=+/ 字符。"
            "Invalid conversation_id: use 1-128 letters, digits or -_.:@=+/ characters."
        )
    return conversation_id


def lead_answer(plan: Plan, task: Task, question: str) -> Answer:
    """Who leads ``task``, from its 责任单位 note."""
    if not task.units:
        text = f"第{task.number}项“{task.title}”在计划中未列出责任单位。"
        return Answer(question, text, False, Intent.WHO, (citation(plan, task, task.title),))
    text = f"第{task.number}项“{task.title}”的牵头单位是{task.lead_unit}。\n责任单位：{units_phrase(task)}。"
    return Answer(question, text, True, Intent.WHO, (citation(plan, task, f"（{task.units_note}）"),))


def original_answer(plan: Plan, task: Task, question: str) -> Answer:
    """The whole task as written in the plan."""
    section = plan.section_of(task)
    text = f"第{task.number}项原文（{section.numeral}、{section.title}）：\n{task.text}"
    return Answer(question, text, True, Intent.TASK, (citation(plan, task, task.body),))


def _has_topic(text: str, plan: Plan) -> bool:
    """Whether the question names something besides the previous answer ("那它的牵头单位是谁" names nothing)."""
    stripped = _REFERENCE.sub(" ", text)
    stripped = re.sub(r"^(?:那|那么)|的|单位|牵头|配合|责任|负责|主责|是|有|由|来|都|分别", " ", stripped)
    return bool(analyze(stripped, plan).topic.strip())


def _topic_follow_up(subject: str, previous: Turn, plan: Plan) -> tuple[FollowUp, str, int | None]:
    query = analyze(subject, plan)
    if query.intent is Intent.TASK and query.task_number is not None:
        if previous.asks is Intent.WHO:
            return FollowUp.LEAD, "", query.task_number
        return FollowUp.TOPIC, f"第{query.task_number}项任务是什么", None
    if query.intent is Intent.SECTION and query.section_number is not None:
        return FollowUp.TOPIC, f"第{query.section_number}部分讲什么", None
    if query.units and previous.asks is Intent.REVERSE:
        return FollowUp.TOPIC, f"{subject}负责哪些任务", None
    if previous.topic and previous.topic in previous.resolved:
        return FollowUp.TOPIC, previous.resolved.replace(previous.topic, subject, 1), None
    if previous.asks is Intent.WHO:
        return FollowUp.TOPIC, f"谁负责{subject}", None
    return FollowUp.NONE, subject, None


def _more(index: PlanIndex, previous: Turn, question: str, config: AnswerConfig, top_k: int | None) -> Answer:
    plan = index.plan
    if analyze(previous.base, plan).intent in (Intent.REVERSE, Intent.SECTION, Intent.TASK):  # complete lists
        text = f"上一个回答已列出全部{len(previous.shown)}项，没有更多了。" if previous.shown else "没有更多了。"
        return Answer(question, text, False, previous.asks)
    wider = answer(index, previous.base, config, top_k=len(previous.shown) + (top_k or config.top_k))
    new = [c for c in wider.citations if c.task not in previous.shown][: top_k or config.top_k]
    if not new:
        text = f"计划中与“{previous.topic or previous.base}”相关的任务已全部列出，没有更多了。"
        return Answer(question, text, False, previous.asks)
    lines = [f"其他相关任务（{previous.topic or previous.base}）："]
    for c in new:
        task = plan.task(c.task)
        lead = task.lead_unit if task and task.lead_unit else "未列责任单位"
        lines.append(f"第{c.task}项“{c.title}”（{lead}牵头）：{c.excerpt}")
    return Answer(question, "\n".join(lines), True, previous.asks, tuple(new))


def _no_such_item(question: str, task_number: int | None, previous: Turn | None) -> Answer:
    if previous is not None and not previous.listing:
        text = "上一个回答没有列出任务，无从指代。请直接提问，例如“谁负责近视防控？”。"
    elif task_number is not None and task_number <= 0 and previous is not None:
        text = f"上一个回答只列出了{len(previous.listing)}项，没有第{-task_number}个。"
    else:
        text = f"本计划没有第{task_number}项任务。"
    return Answer(question, text, False, previous.asks if previous else Intent.TASK)


def _turn(plan: Plan, question: str, resolved: str, kind: FollowUp, result: Answer, previous: Turn | None) -> Turn:
    cited = tuple(c.task for c in result.citations)
    asked = analyze(resolved, plan) if resolved else None
    asks = result.intent if result.intent is not Intent.OUT_OF_SCOPE else (asked.intent if asked else Intent.FACT)
    if kind in (FollowUp.LEAD, FollowUp.ITEM, FollowUp.ORIGINAL, FollowUp.MORE) and previous is not None:
        # The previous list stays what "第二个" counts in; "还有哪些" adds to what has been shown.
        shown = previous.shown + cited if kind is FollowUp.MORE else previous.shown
        listing = previous.listing + cited if kind is FollowUp.MORE else previous.listing
        asks = previous.asks if kind is FollowUp.MORE else (Intent.WHO if kind is FollowUp.LEAD else previous.asks)
        focus = cited[0] if cited else previous.focus
        return Turn(question, resolved, kind, result, asks, previous.topic, previous.base, listing, shown, focus)
    if not cited and previous is not None:  # not covered: what "它" and "第二个" mean stays as it was
        topic = asked.topic if asked else ""
        return Turn(question, resolved, kind, result, asks, topic, previous.base, previous.listing,
                    previous.shown, previous.focus)  # fmt: skip
    topic = asked.topic if asked else ""
    return Turn(question, resolved, kind, result, asks, topic, resolved, cited, cited, cited[0] if cited else None)


__all__ = [
    "ConversationConfig",
    "ConversationStore",
    "FollowUp",
    "Turn",
    "ask_in_conversation",
    "converse",
    "replay",
    "resolve",
    "take_turn",
]
