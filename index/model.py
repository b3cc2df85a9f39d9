"""The plan model: a parsed plan (Plan → Section → Task) and what retrieval returns over it (Hit, TaskHit).

All frozen dataclasses; the answers built on top live in ``rag/types.py``, pydantic only at the API boundary.

Every non-blank line of the source is somewhere in a ``Plan``: the title line, a preamble paragraph, a section or
sub-section heading, a task (its lines joined: number, body, note), a paragraph of a section outside any task, a
closing line (signature, date) or a dropped line with its reason. Each piece remembers its line number
(``line``/``lines``, 1-based; not part of equality: the same plan read from another file is the same plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cached_property

from index.normalize import to_cn_numeral


class Role(StrEnum):
    """A unit's part in a task, from the note's wording (see ``index/notes.py``)."""

    LEAD = "lead"  # 牵头: the first unit of a 责任单位 list, or every unit of a 牵头单位 segment
    SUPPORT = "support"  # 配合: the other units before the first comma, or every unit of a 配合单位 segment
    LOCAL = "local"  # units after the first comma (各县区教育行政部门, 市直学校), and every collective 各…

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {Role.LEAD: "牵头", Role.SUPPORT: "配合", Role.LOCAL: "落实"}


class Numbering(StrEnum):
    CONTINUOUS = "continuous"  # 1, 2, … 31 across the whole plan: a task is "第12项"
    PER_SECTION = "per_section"  # numbers restart at 1 in each section: a task is "第三部分第2项" (ref "3-2")


@dataclass(frozen=True)
class UnitRole:
    unit: str
    role: Role


@dataclass(frozen=True)
class Paragraph:
    """A line of the source kept as text: a preamble paragraph, a closing line, a section's own paragraph."""

    text: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class DroppedLine:
    """A line judged not to be plan text, and why (``line`` 0: removed while reading the file, e.g. a PDF
    page number; ``reason`` then says where)."""

    text: str
    reason: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Task:
    """One numbered task, e.g. ``8.大力加强体育、美育工作。…(责任单位:体卫艺科、…)``."""

    key: int  # unique in the plan: the number in a continuously numbered plan, else the position 1, 2, …
    ref: str  # how a task is addressed: "12", or "3-2" (section 3, task 2) when numbering restarts per section
    number: int  # as written
    section: int
    title: str  # the sentence before the first 。, without it
    body: str  # the paragraph(s) as written, without the leading number and the note
    sentences: tuple[str, ...]  # the body split into sentences, each verbatim with its end mark
    marker: str = ""  # the number as written: "8." "1．" "3、" "（3）"
    note: str = ""  # the note verbatim with its brackets: "(责任单位:宣教科、组织人事科,各县区教育行政部门)"
    assigned: tuple[UnitRole, ...] = ()  # units in note order by role: leads, supports, then local units
    leaders: tuple[str, ...] = ()  # 责任领导 (titles such as 王副主任): people, never units
    subsection: int = 0  # the （一）（二） heading the task stands under, 0 for none
    lines: tuple[int, ...] = field(default=(), compare=False)  # source lines: the task line, continuations, note

    @cached_property
    def units(self) -> tuple[str, ...]:
        """Responsible units: leads first, then supporting units, then local ones."""
        return tuple(a.unit for a in self.assigned)

    @property
    def lead_unit(self) -> str | None:
        return self.units[0] if self.units else None

    def with_role(self, role: Role) -> tuple[str, ...]:
        return tuple(a.unit for a in self.assigned if a.role is role)

    @property
    def leads(self) -> tuple[str, ...]:
        return self.with_role(Role.LEAD)

    @property
    def bureau_units(self) -> int:
        """How many of ``units`` are the issuer's own departments (leads and supports, not local units)."""
        return sum(a.role is not Role.LOCAL for a in self.assigned)

    def role_of(self, unit: str) -> Role | None:
        return next((a.role for a in self.assigned if a.unit == unit), None)

    @property
    def units_note(self) -> str:
        """The note without its brackets: "责任单位:宣教科、组织人事科,各县区教育行政部门"."""
        inner = self.note.strip().rstrip("。.").rstrip()
        return inner[1:-1].strip() if len(inner) >= 2 else inner

    @property
    def text(self) -> str:
        """The whole task as written in the plan (its lines joined)."""
        return f"{self.marker or f'{self.number}.'}{self.body}{self.note}"

    @property
    def label(self) -> str:
        """How a reader names the task: "第12项", or "第三部分第2项" in a plan numbered per section."""
        return ref_label(self.ref)


def ref_label(ref: str) -> str:
    """``"12"`` → ``"第12项"``; ``"3-2"`` → ``"第三部分第2项"``."""
    section, _, number = ref.rpartition("-")
    if section.isdigit():
        return f"第{to_cn_numeral(int(section))}部分第{number}项"
    return f"第{ref}项"


@dataclass(frozen=True)
class Subsection:
    """A heading inside a section that introduces tasks but is none:
    ``（一）产业提升人才行动计划。围绕…，实施如下重点项目：``."""

    number: int
    numeral: str  # as written: "一"
    title: str  # the heading up to its first 。 or ：, e.g. "产业提升人才行动计划"
    heading: str  # the whole line as written
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Section:
    """A numbered part of the plan, e.g. ``四、着力构建优质均衡的教育公共服务体系``."""

    number: int
    numeral: str  # as written: "四"
    title: str
    tasks: tuple[Task, ...] = ()
    heading: str = ""  # the line as written: "四、着力构建…"
    subsections: tuple[Subsection, ...] = ()
    paragraphs: tuple[Paragraph, ...] = ()  # text of the section outside any task (an introduction …)
    line: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        return f"{self.numeral}、{self.title}" if self.numeral else self.title

    def subsection_tasks(self, number: int) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.subsection == number)


@dataclass(frozen=True)
class Plan:
    title: str
    sections: tuple[Section, ...]
    preamble_paragraphs: tuple[Paragraph, ...] = ()  # the opening paragraphs, de-duplicated
    numbering: Numbering = Numbering.CONTINUOUS
    missing_tasks: tuple[int, ...] = ()  # gaps in a continuous task numbering, found at parse time
    missing_sections: tuple[int, ...] = ()  # gaps in the section numbering
    missing_refs: tuple[str, ...] = ()  # every gap as a ref: "18", or "2-3" in a plan numbered per section
    dropped: tuple[DroppedLine, ...] = ()  # lines judged not to be plan text (furniture, repeated abstracts)
    closing: tuple[Paragraph, ...] = ()  # signature, date, "（此件公开发布）" after the last task
    title_line: Paragraph | None = None  # the title as written in the text, when it has one

    @property
    def preamble(self) -> str:
        return "\n".join(p.text for p in self.preamble_paragraphs)

    # What answering reads of a plan on every question is worked out once per plan (a plan is frozen), not per
    # question: its tasks, the task of each key, its units, and its hash (plans key the per-plan caches of
    # ``rag.query``; hashing one walks every task).

    def __hash__(self) -> int:
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self) if f.compare))
            object.__setattr__(self, "_hash", cached)
        return cached

    @cached_property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(t for s in self.sections for t in s.tasks)

    @cached_property
    def _by_key(self) -> dict[int, Task]:
        by_key: dict[int, Task] = {}
        for t in self.tasks:
            by_key.setdefault(t.key, t)
        return by_key

    def task(self, key: int) -> Task | None:
        """The task with this key (its number, in a continuously numbered plan)."""
        return self._by_key.get(key)

    def by_ref(self, ref: str) -> Task | None:
        return next((t for t in self.tasks if t.ref == ref), None)

    def numbered(self, number: int, section: int | None = None) -> tuple[Task, ...]:
        """Tasks written with ``number`` (in ``section`` when given): one in a continuous plan, one per
        section that has it in a plan numbered per section."""
        return tuple(t for t in self.tasks if t.number == number and (section is None or t.section == section))

    def section(self, number: int) -> Section | None:
        for s in self.sections:
            if s.number == number:
                return s
        return None

    def section_of(self, task: Task) -> Section:
        section = self.section(task.section)
        assert section is not None, f"task {task.ref} points at a missing section"
        return section

    @cached_property
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

    task: int  # Task.key
    sentence: int  # index into Task.sentences
    text: str
    score: float


@dataclass(frozen=True)
class TaskHit:
    """Retrieval results grouped by task, best sentence first."""

    task: int  # Task.key
    score: float
    hits: tuple[Hit, ...]
    similarity: float = 0.0  # best cosine similarity of the question to one of the task's sentences
