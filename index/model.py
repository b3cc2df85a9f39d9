"""The plan model: a parsed plan (Plan → Section → Task) and what retrieval returns over it (Hit, TaskHit).

All frozen dataclasses; the answers built on top live in ``rag/types.py``, pydantic only at the API boundary.
"""

from __future__ import annotations

from dataclasses import dataclass


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
