"""The answering domain: what a question asks (Intent, Query) and what the answer says (Citation, Answer).

Frozen dataclasses; the plan model they refer to is ``index/model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from index.model import Role, Task


class Intent(StrEnum):
    WHO = "who"  # 谁负责近视防控?
    REVERSE = "reverse"  # 基教科负责哪些任务?
    TASK = "task"  # 第12项任务是什么?
    SECTION = "section"  # 第四部分讲什么?
    FACT = "fact"  # 大班额比例控制在多少? 职业教育有哪些措施?
    ROUNDUP = "roundup"  # 跟教师有关的任务有哪些? — every task on a topic, each with its lead unit
    COMPARE = "compare"  # 近视防控今年和去年比有什么变化? — two plans of one issuer (rag/yoy.py)
    OUT_OF_SCOPE = "out_of_scope"  # 明天天气怎么样?


class Language(StrEnum):
    """The language of a question: English words are read through the lexicon's glossary."""

    ZH = "zh"
    EN = "en"
    MIXED = "mixed"  # Chinese with English words: "孩子 myopia 越来越严重,局里谁管?"


@dataclass(frozen=True)
class Query:
    """What query analysis makes of a question."""

    text: str  # the question as asked
    normalized: str  # simplified, half-width, without zero-width characters
    intent: Intent
    task_number: int | None = None  # as the question writes it: 第12项 → 12 (第三部分第2项 → 2)
    section_number: int | None = None  # 第四部分 → 4 (第三部分第2项 → 3)
    units: tuple[str, ...] = ()  # plan units the question names (aliases resolved)
    unknown_unit: str | None = None  # a unit-like name the plan does not know
    counterparts: tuple[str, ...] = ()  # the plan's units doing the work of the unknown one (教育信息中心 → 电化教育馆)
    topic: str = ""  # the question with question words removed, for matching and phrasing
    role: Role | None = None  # the part asked about: 谁配合 / 配合单位 → SUPPORT (who-answers always mark leads)
    leaders: bool = False  # asks for the 责任领导 (people), not the units
    subsection: int | None = None  # 产业提升人才行动计划包括哪些项目 → the （一） heading of section_number
    language: Language = Language.ZH
    expansion: tuple[str, ...] = ()  # the plan's terms for what the question says in other words (rag/lexicon.py)


@dataclass(frozen=True)
class Citation:
    task: int  # Task.key: the number in a continuously numbered plan
    section: str
    title: str
    excerpt: str
    units: tuple[str, ...]
    lead_unit: str | None
    score: float
    ref: str = ""  # Task.ref: "12", or "3-2" in a plan numbered per section
    label: str = ""  # how the answer names the task: "第12项", "第三部分第2项"
    plan: str = ""  # the plan's id, in a library of plans (rag/library.py)
    plan_title: str = ""  # and its title


class Decision(StrEnum):
    ANSWER = "answer"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Signals:
    """What the answer gate weighs (rag/gate.py), for the best task retrieval found."""

    dense_z: float  # its best sentence's cosine, in standard deviations above the mean over all sentences
    dense_margin: float  # dense_z minus that of the next task
    keyword_coverage: float  # share of the question's content words found verbatim in the task
    soft_coverage: float  # the same, a word also counting when one of its lexicon terms is there
    latin_share: float  # share of the question's letters that are Latin (0 Chinese … 1 English)
    detail_missing: bool  # asks a number, date, person or place that the matching sentence does not state
    year_missing: bool  # names a year the plan never mentions
    top_share: float  # share of the best-fused sentences that belong to the best task (retrieval's agreement)


@dataclass(frozen=True)
class Evidence:
    """Why an answer was given or refused: the signals, the gate's estimate, its threshold, the decision."""

    signals: Signals
    probability: float  # the gate's estimate that the best task answers the question
    threshold: float  # the operating point: answer at or above it
    decision: Decision
    reason: str = ""  # a rule that decided before the model, e.g. "asks_person"


@dataclass(frozen=True)
class Suggestion:
    """A task close to a question the plan does not answer: offered, not claimed."""

    task: int  # Task.key
    title: str
    lead_unit: str | None
    label: str = ""  # how answers name the task: "第12项", "第三部分第2项"
    ref: str = ""  # Task.ref: "12", or "3-2" in a plan numbered per section

    @classmethod
    def of(cls, task: Task) -> Suggestion:
        return cls(task.key, task.title, task.lead_unit, task.label, task.ref)


class AnswerMode(StrEnum):
    EXTRACTIVE = "extractive"  # composed from the plan (the default; no LLM configured or none needed)
    LLM = "llm"  # written by the LLM over the retrieved tasks, and passed the grounding checks
    LLM_REJECTED = "llm_rejected"  # the LLM was asked but its answer failed a check or timed out: extractive


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    intent: Intent
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    mode: AnswerMode = AnswerMode.EXTRACTIVE
    mode_reason: str | None = None  # why an LLM answer was rejected, e.g. "uncited_task:12", "timeout"
    evidence: Evidence | None = None  # the answer gate's reasons, for answers that needed retrieval
    suggestions: tuple[Suggestion, ...] = ()  # close tasks, when the plan does not state what was asked


class FollowUp(StrEnum):
    """How a question was read against the turn before (``rag/followup.py``)."""

    NONE = "none"  # a standalone question
    LEAD = "lead"  # 那它的牵头单位是谁?
    ITEM = "item"  # 第二个呢?
    MORE = "more"  # 还有哪些?
    ORIGINAL = "original"  # 这项任务的原文
    TOPIC = "topic"  # 课后服务呢?
    PLAN = "plan"  # 2022年呢? — the question before, asked of another plan of the library


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
class ChangeRef:
    """One task's change between two plans, as a comparison reports it."""

    old_ref: str | None  # the task in the older plan (None: new)
    new_ref: str | None  # in the newer plan (None: dropped)
    kinds: tuple[str, ...]  # new, dropped, reworded, figures, lead_changed, units_added, units_removed, same


@dataclass(frozen=True)
class Comparison:
    """What a year-over-year answer compared: the two plans, the changes it reports, or why it would not."""

    old: str | None  # plan ids (None: the library has no such plan)
    new: str | None
    refused: str = ""  # "different_issuers", "no_other_year"; "" when compared
    changes: tuple[ChangeRef, ...] = ()
