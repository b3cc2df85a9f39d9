"""The domain objects: a parsed plan and the answers built from it.

All are frozen dataclasses; pydantic appears only at the API boundary (``api/schemas.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Task:
    """One numbered task, e.g. ``8.大力加强体育、美育工作。…(责任单位:体卫艺科、…)``."""

    number: int
    section: int
    title: str  # the sentence before the first 。, without it
    body: str  # the paragraph as written, without the leading number and the 责任单位 note
    sentences: tuple[str, ...]  # the body split into sentences, each verbatim with its end mark
    units: tuple[str, ...] = ()  # responsible units in the order listed; the first is the lead (牵头)
    bureau_units: int = 0  # how many of ``units`` come before the first comma (bureau departments)
    units_note: str = ""  # the 责任单位 note verbatim, e.g. "责任单位:宣教科、组织人事科,各县区教育行政部门"

    @property
    def lead_unit(self) -> str | None:
        return self.units[0] if self.units else None

    @property
    def text(self) -> str:
        """The whole task as written in the plan."""
        note = f"({self.units_note})" if self.units_note else ""
        return f"{self.number}.{self.body}{note}"


@dataclass(frozen=True)
class Section:
    """A numbered part of the plan, e.g. ``四、着力构建优质均衡的教育公共服务体系``."""

    number: int
    numeral: str  # as written: "四"
    title: str
    tasks: tuple[Task, ...] = ()


@dataclass(frozen=True)
class Plan:
    title: str
    preamble: str  # the opening paragraph(s) before the first section, de-duplicated
    sections: tuple[Section, ...]
    missing_tasks: tuple[int, ...] = ()  # gaps in the task numbering, found at parse time
    missing_sections: tuple[int, ...] = ()  # gaps in the section numbering
    dropped: tuple[str, ...] = ()  # lines judged not to be plan text (footers, repeated abstracts)

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(t for s in self.sections for t in s.tasks)

    def task(self, number: int) -> Task | None:
        for t in self.tasks:
            if t.number == number:
                return t
        return None

    def section(self, number: int) -> Section | None:
        for s in self.sections:
            if s.number == number:
                return s
        return None

    def section_of(self, task: Task) -> Section:
        section = self.section(task.section)
        assert section is not None, f"task {task.number} points at a missing section"
        return section

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit named in the plan, in order of first appearance."""
        seen: dict[str, None] = {}
        for t in self.tasks:
            for u in t.units:
                seen.setdefault(u, None)
        return tuple(seen)


class Intent(StrEnum):
    WHO = "who"  # 谁负责近视防控?
    REVERSE = "reverse"  # 基教科负责哪些任务?
    TASK = "task"  # 第12项任务是什么?
    SECTION = "section"  # 第四部分讲什么?
    FACT = "fact"  # 大班额比例控制在多少? 职业教育有哪些措施?
    OUT_OF_SCOPE = "out_of_scope"  # 明天天气怎么样?


@dataclass(frozen=True)
class Query:
    """What query analysis makes of a question."""

    text: str  # the question as asked
    normalized: str  # simplified, half-width, without zero-width characters
    intent: Intent
    task_number: int | None = None
    section_number: int | None = None
    units: tuple[str, ...] = ()  # plan units the question names (aliases resolved)
    unknown_unit: str | None = None  # a unit-like name the plan does not know
    topic: str = ""  # the question with question words removed, for matching and phrasing


@dataclass(frozen=True)
class Hit:
    """One retrieved sentence, with the task it belongs to."""

    task: int
    sentence: int  # index into Task.sentences
    text: str
    score: float


@dataclass(frozen=True)
class TaskHit:
    """Retrieval results grouped by task, best sentence first."""

    task: int
    score: float
    hits: tuple[Hit, ...]
    similarity: float = 0.0  # best cosine similarity of the question to one of the task's sentences


@dataclass(frozen=True)
class Citation:
    task: int
    section: str
    title: str
    excerpt: str
    units: tuple[str, ...]
    lead_unit: str | None
    score: float


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
