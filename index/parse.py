"""Parse a work plan (工作要点) into the typed document model, accounting for every line.

The plans of this family look like this (one paragraph per line; indentation, blank lines and page furniture
vary by issuer):

    当前位置：首页 > 政务公开 > 规划计划                            ← dropped: page furniture
    青山市教育局2022年工作要点                                     ← the title
    摘要                                                         ← dropped: a repeated abstract
    2021年是中国共产党成立100周年,…                               ← preamble
    一、深入学习宣传贯彻习近平新时代中国特色社会主义思想…               ← section
    （一）产业提升人才行动计划。…实施如下重点项目：                    ← sub-section heading (no task)
    1.切实强化思想理论武装。认真学习领会…。(责任单位:宣教科、组织人事科,各县区教育行政部门、市直学校)
    （1）推进紧密型县域医共体建设。…                                 ← a task numbered （1）, its note …
    （责任领导：王副主任；责任科室：体制改革科、基层卫生健康科）           ← … on a line of its own
    青山市教育局 / 2022年2月25日 / （此件公开发布）                   ← closing lines
    扫一扫在手机打开当前页                                         ← dropped: page furniture

Every non-blank line ends up in exactly one place of the ``Plan`` (see ``index/model.py``), or in
``Plan.dropped`` with its reason and line number. Nothing here knows a particular plan: numbers, gaps,
numbering style and units all come from the text (line rules: ``index/layout.py``; notes: ``index/notes.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from index.errors import PlanParseError
from index.layout import (
    INDENT,
    TITLE,
    TRUNCATED,
    Heading,
    Marker,
    closing_line,
    furniture,
    section_heading,
    subsection_heading,
    subsection_title,
    task_marker,
)
from index.model import DroppedLine, Numbering, Paragraph, Plan, Section, Subsection, Task
from index.normalize import split_sentences
from index.notes import is_note_line, note_span, read_note

PARSER_VERSION = "3"

Row = tuple[int, str]  # (line number, 1-based; the line without indentation)


@dataclass
class _TaskDraft:
    number: int
    marker: str
    section: int
    subsection: int
    parts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    note: str = ""

    def add(self, text: str, line: int) -> None:
        """A line of the task: its first line's text after the number, a continuation, or its note."""
        self.lines.append(line)
        start = note_span(text)
        if start is None:
            self.parts.append(text)
        else:
            self.parts.append(text[:start])
            self.note = text[start:]


@dataclass
class _SectionDraft:
    heading: Heading
    line: str
    number_line: int
    subsections: list[Subsection] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)


def source_rows(text: str) -> list[Row]:
    """The non-blank lines of ``text`` with their 1-based numbers, indentation (spaces, U+3000) stripped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    rows = [(n, line.strip(INDENT)) for n, line in enumerate(lines, 1)]
    return [(n, line.strip()) for n, line in rows if line.strip()]


def parse_plan(text: str, title: str = "") -> Plan:
    """Parse the plan's text. Raises PlanParseError (naming the line) when no numbered task can be found or a
    task number repeats."""
    return _Parser(source_rows(text)).parse(title)


class _Parser:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.style = _task_style(rows)
        self.front: list[Row] = []  # lines before the first section or task: title and preamble
        self.dropped: list[DroppedLine] = []
        self.closing: list[Paragraph] = []
        self.sections: list[_SectionDraft] = []
        self.tasks: list[_TaskDraft] = []
        self.section_zero: list[Paragraph] = []  # paragraphs outside tasks in a plan without sections

    @property
    def section(self) -> int:
        return self.sections[-1].heading.number if self.sections else 0

    @property
    def subsection(self) -> int:
        current = self.sections[-1].subsections if self.sections else []
        return current[-1].number if current else 0

    def open_task(self) -> _TaskDraft | None:
        """The task still being read: no note yet, and no heading since it started."""
        if not self.tasks:
            return None
        last = self.tasks[-1]
        return last if not last.note and (last.section, last.subsection) == (self.section, self.subsection) else None

    def parse(self, title: str) -> Plan:
        tail = self._tail_start()
        for i, (n, line) in enumerate(self.rows):
            if i >= tail:  # after the last task: closing lines (signature, date) and furniture
                reason = furniture(line)
                if reason:
                    self.dropped.append(DroppedLine(line, reason, n))
                else:
                    self.closing.append(Paragraph(line, n))
                continue
            self._read(i, n, line)
        if not self.tasks:
            raise PlanParseError(
                "找不到编号任务（如“1.切实强化思想理论武装。…”）。No numbered tasks found: "
                "is this a work plan with lines like '1.Title。Body…(责任单位:…)'?"
            )
        return self._plan(title)

    def _read(self, i: int, n: int, line: str) -> None:
        task = self.open_task()
        if task is not None and is_note_line(line):
            # A note on a line of its own: "（责任领导：王副主任；责任科室：体制改革科、基层卫生健康科）".
            task.add(line, n)
            return
        if (heading := section_heading(line)) and heading.number > self.section:
            # Section numbers only grow: "一、二年级不布置书面作业" inside section 三 is text, not a heading.
            self.sections.append(_SectionDraft(heading, line, n))
            return
        if heading := subsection_heading(line):
            self._subsection(heading, line, n)
            return
        if (marker := task_marker(line)) and self._accepts(marker):
            draft = _TaskDraft(marker.number, marker.marker, self.section, self.subsection)
            draft.add(marker.rest, n)
            self.tasks.append(draft)
            return
        reason = furniture(line)
        if reason and not (task is not None and self._note_follows(i)):
            # Furniture as a whole line; a line between a task and its own-line note is the task's.
            self.dropped.append(DroppedLine(line, reason, n))
            return
        if task is not None:
            task.add(line, n)  # a paragraph continuing the task, its note at the end or not
        elif not self.tasks and not self.sections:
            self.front.append((n, line))
        else:
            self._paragraph(Paragraph(line, n))

    def _subsection(self, heading: Heading, line: str, n: int) -> None:
        """ "（一）产业提升人才行动计划。…实施如下重点项目：": a heading for the tasks after it, not a task."""
        sub = Subsection(heading.number, heading.numeral, subsection_title(heading.title), line, n)
        if not self.sections:  # sub-sections before any section: they hang under an unnamed section 0
            self.sections.append(_SectionDraft(Heading(0, "", ""), "", 0))
        self.sections[-1].subsections.append(sub)

    def _paragraph(self, paragraph: Paragraph) -> None:
        """Text of a section outside any task (an introduction, or a paragraph after a task's note)."""
        (self.sections[-1].paragraphs if self.sections else self.section_zero).append(paragraph)

    def _accepts(self, marker: Marker) -> bool:
        """Whether a numbered line starts a task.

        A plan numbers its tasks one way ("1." or "（1）"; sub-points numbered the other way are text). When
        digits follow the marker ("11.121人才梯队项目。", "47.15分钟人才服务圈建设。", but also "1.5亿元用于…")
        the line is a task only if its number continues the sequence: the next number, or 1 in a new section.
        """
        if marker.style != self.style:
            return False
        if not marker.rest[:1].isdigit():
            return True
        if not self.tasks:
            return marker.number == 1
        last = self.tasks[-1]
        return marker.number == last.number + 1 or (marker.number == 1 and last.section != self.section)

    def _note_follows(self, i: int) -> bool:
        """Whether an own-line note comes after row ``i`` before the next heading or task."""
        for _, line in self.rows[i + 1 :]:
            if is_note_line(line):
                return True
            if _heading(line) or task_marker(line):
                return False
        return False

    def _tail_start(self) -> int:
        """Where the closing block starts: the furniture and closing lines (signature, date, remark) after the
        last line that can belong to a task (a task line, a note or a heading)."""
        last = max(
            (i for i, (_, line) in enumerate(self.rows) if task_marker(line) or is_note_line(line) or _heading(line)),
            default=len(self.rows),
        )
        start = len(self.rows)
        while start - 1 > last:
            line = self.rows[start - 1][1]
            if not (furniture(line) or closing_line(line)):
                break
            start -= 1
        return start

    def _plan(self, title: str) -> Plan:
        front = self.front
        title_line = None
        if front and TITLE.match(front[0][1]):
            title_line = Paragraph(front[0][1], front[0][0])
            title = title or title_line.text
            front = front[1:]
        preamble, repeats = _clean_preamble(front)
        numbering = _numbering(self.tasks)
        _refuse_duplicates(self.tasks, numbering)
        tasks = [_build_task(d, i, numbering) for i, d in enumerate(self.tasks, 1)]

        drafts = list(self.sections)
        if any(t.section == 0 for t in tasks) or self.section_zero:
            if not drafts or drafts[0].heading.number != 0:
                drafts.insert(0, _SectionDraft(Heading(0, "", ""), "", 0))
            drafts[0].paragraphs[:0] = self.section_zero
        sections = tuple(
            Section(
                number=d.heading.number,
                numeral=d.heading.numeral,
                title=d.heading.title,
                tasks=tuple(t for t in tasks if t.section == d.heading.number),
                heading=d.line,
                subsections=tuple(d.subsections),
                paragraphs=tuple(d.paragraphs),
                line=d.number_line,
            )
            for d in drafts
        )
        section_numbers = {s.number for s in sections if s.number > 0}
        missing, missing_refs = _missing(tasks, numbering)
        return Plan(
            title=title,
            sections=sections,
            preamble_paragraphs=tuple(preamble),
            numbering=numbering,
            missing_tasks=missing,
            missing_sections=_gaps(section_numbers),
            missing_refs=missing_refs,
            dropped=tuple(sorted(self.dropped + repeats, key=lambda d: d.line)),
            closing=tuple(self.closing),
            title_line=title_line,
        )


def _heading(line: str) -> bool:
    return bool(section_heading(line) or subsection_heading(line))


def _task_style(rows: list[Row]) -> str:
    """How the plan numbers its tasks, "dot" (1. 1． 1、) or "paren" (（1）): the style most of its numbered
    lines use (a plan with tasks "1." may number sub-points "（1）" inside them, and the other way round)."""
    styles = Counter(m.style for _, line in rows if (m := task_marker(line)))
    return "paren" if styles["paren"] > styles["dot"] else "dot"


def _numbering(drafts: list[_TaskDraft]) -> Numbering:
    """Per section when a section's numbers start again at or below where the section before ended."""
    previous: _TaskDraft | None = None
    for d in drafts:
        if previous is not None and d.section != previous.section and d.number <= previous.number:
            return Numbering.PER_SECTION
        previous = d
    return Numbering.CONTINUOUS


def _refuse_duplicates(drafts: list[_TaskDraft], numbering: Numbering) -> None:
    seen: dict[tuple[int, int], int] = {}
    for d in drafts:
        scope = (d.section if numbering is Numbering.PER_SECTION else 0, d.number)
        if scope in seen:
            where = "in its section" if numbering is Numbering.PER_SECTION else "in the plan"
            raise PlanParseError(
                f"第{d.lines[0]}行：任务编号{d.number}重复（第{seen[scope]}行已有）。Line {d.lines[0]}: task number "
                f"{d.number} repeats (first at line {seen[scope]}); PlanQA cites tasks by number, so each number "
                f"must be unique {where}."
            )
        seen[scope] = d.lines[0]


def _build_task(draft: _TaskDraft, position: int, numbering: Numbering) -> Task:
    body = "".join(draft.parts)
    sentences = tuple(split_sentences(body))
    first = sentences[0] if sentences else body
    roles = read_note(draft.note) if draft.note else None
    per_section = numbering is Numbering.PER_SECTION
    return Task(
        key=position if per_section else draft.number,
        ref=f"{draft.section}-{draft.number}" if per_section else str(draft.number),
        number=draft.number,
        section=draft.section,
        title=first.rstrip("。！？!?").strip(),
        body=body,
        sentences=sentences,
        marker=draft.marker,
        note=draft.note,
        assigned=roles.assigned if roles else (),
        leaders=roles.leaders if roles else (),
        subsection=draft.subsection,
        lines=tuple(draft.lines),
    )


def _clean_preamble(rows: list[Row]) -> tuple[list[Paragraph], list[DroppedLine]]:
    """Keep the opening paragraphs once: drop ones cut short with “...” and ones repeated inside a longer one."""
    kept: list[Paragraph] = []
    dropped: list[DroppedLine] = []
    texts = [p for _, p in rows]
    for i, (n, p) in enumerate(rows):
        others = texts[:i] + texts[i + 1 :]
        repeated = any(p in o and (len(o) > len(p) or j < i) for j, o in enumerate(others))
        if TRUNCATED.search(p):
            dropped.append(DroppedLine(p, "abstract cut short with “...”: a copy of the opening paragraph", n))
        elif repeated:
            dropped.append(DroppedLine(p, "repeated inside another paragraph of the preamble", n))
        else:
            kept.append(Paragraph(p, n))
    return kept, dropped


def _missing(tasks: list[Task], numbering: Numbering) -> tuple[tuple[int, ...], tuple[str, ...]]:
    if numbering is Numbering.CONTINUOUS:
        gaps = _gaps({t.number for t in tasks})
        return gaps, tuple(str(n) for n in gaps)
    refs: list[str] = []
    for section in dict.fromkeys(t.section for t in tasks):
        refs += [f"{section}-{n}" for n in _gaps({t.number for t in tasks if t.section == section})]
    return (), tuple(refs)


def _gaps(numbers: set[int]) -> tuple[int, ...]:
    if not numbers:
        return ()
    return tuple(n for n in range(1, max(numbers)) if n not in numbers)


def render_plan(plan: Plan) -> str:
    """The plan back as text of the family ``parse_plan`` reads: title, preamble, headings and tasks verbatim,
    one paragraph per line. Parsing the result gives the same sections, tasks, bodies and units (the title
    only when it reads as one, e.g. "…工作要点")."""
    lines = [plan.title] if TITLE.match(plan.title) else []
    lines += [p.text for p in plan.preamble_paragraphs]
    for section in plan.sections:
        if section.numeral:
            lines.append(section.heading or f"{section.numeral}、{section.title}")
        lines += [p.text for p in section.paragraphs]
        shown = 0
        for task in section.tasks:
            lines += [s.heading for s in section.subsections if shown < s.number <= task.subsection]
            shown = max(shown, task.subsection)
            lines.append(task.text)
        lines += [s.heading for s in section.subsections if s.number > shown]
    lines += [p.text for p in plan.closing]
    return "\n".join(lines) + "\n"
