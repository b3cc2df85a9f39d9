"""The check report: what a plan file parses into, every line left out and why, and what looks doubtful.

``planqa plans check FILE`` prints it (``--json`` for tools); an upload route returns the same object, so an
operator sees a problem (a task without a note, a unit named once, a gap in the numbering) before serving the
plan. ``lines_accounted`` proves nothing was lost: every non-blank line of the text is in exactly one place.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.model import DroppedLine, Numbering, Plan, Role, Task
from index.parse import source_rows
from index.readers import PlanText, parse_document, read_document


@dataclass(frozen=True)
class CheckWarning:
    code: str  # no_note, note_without_units, unit_once, gap, section_gap, out_of_order, outside_task, empty_section
    message: str  # for the operator, Chinese then English
    line: int = 0  # where, in the text read (0: the plan as a whole)
    ref: str = ""  # the task concerned, if any


@dataclass(frozen=True)
class PlanReport:
    source: PlanText
    plan: Plan
    lines_read: int  # non-blank lines of the text
    lines_accounted: int  # of them, those the plan holds (title, preamble, headings, tasks, closing) or dropped
    warnings: tuple[CheckWarning, ...]

    @property
    def complete(self) -> bool:
        return self.lines_read == self.lines_accounted

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "source": {"name": self.source.name, "format": self.source.format, "encoding": self.source.encoding},
            "title": plan.title,
            "numbering": plan.numbering.value,
            "lines": {"read": self.lines_read, "accounted": self.lines_accounted},
            "preamble": [p.text for p in plan.preamble_paragraphs],
            "sections": [
                {
                    "number": s.number,
                    "numeral": s.numeral,
                    "title": s.title,
                    "line": s.line,
                    "subsections": [{"numeral": x.numeral, "title": x.title, "line": x.line} for x in s.subsections],
                    "paragraphs": [{"line": p.line, "text": p.text} for p in s.paragraphs],
                    "tasks": [_task_dict(t) for t in s.tasks],
                }
                for s in plan.sections
            ],
            "missing_tasks": list(plan.missing_refs),
            "missing_sections": list(plan.missing_sections),
            "closing": [p.text for p in plan.closing],
            "dropped": [_dropped_dict(d) for d in plan.dropped],
            "removed_while_reading": [_dropped_dict(d) for d in self.source.removed],
            "warnings": [{"code": w.code, "line": w.line, "ref": w.ref, "message": w.message} for w in self.warnings],
        }

    def render(self) -> str:
        """The report as an operator reads it in a terminal."""
        plan, src = self.plan, self.source
        numbering = "按部分编号 per section" if plan.numbering is Numbering.PER_SECTION else "连续编号 continuous"
        out = [
            f"{plan.title or '（无标题 untitled）'}",
            f"文件 file: {src.name} ({src.format}{', ' + src.encoding if src.encoding else ''})",
            f"{len(plan.tasks)} 项任务 tasks, {sum(1 for s in plan.sections if s.numeral)} 个部分 sections, "
            f"{numbering}; {self.lines_accounted}/{self.lines_read} 行已归类 lines accounted for",
        ]
        if plan.preamble_paragraphs:
            out.append(f"前言 preamble: {len(plan.preamble_paragraphs)} 段 paragraph(s)")
        for s in plan.sections:
            out.append("")
            out.append(f"{s.label or '（无部分标题 no section heading）'}" + (f"  [第{s.line}行]" if s.line else ""))
            for p in s.paragraphs:
                out.append(f"    （部分正文 section text）{_short(p.text)}  [第{p.line}行]")
            sub = 0
            for t in s.tasks:
                if t.subsection != sub:
                    sub = t.subsection
                    heading = next((x for x in s.subsections if x.number == sub), None)
                    if heading:
                        out.append(f"  （{heading.numeral}）{heading.title}  [第{heading.line}行]")
                line = f" [第{t.lines[0]}行]" if t.lines else ""
                out.append(f"  {t.ref:>5} {t.title}{line}")
                out.append(f"        {_roles(t)}")
        out += ["", f"编号缺口 gaps: {'、'.join(plan.missing_refs) or '无 none'}"]
        if plan.missing_sections:
            out.append(f"缺少的部分 missing sections: {'、'.join(map(str, plan.missing_sections))}")
        if plan.closing:
            out.append("结尾 closing: " + " / ".join(p.text for p in plan.closing))
        out += ["", f"舍弃的行 dropped lines ({len(plan.dropped)}):"]
        out += [f"  第{d.line}行  {_short(d.text)}  — {d.reason}" for d in plan.dropped] or ["  无 none"]
        if src.removed:
            out += ["", f"读取时去掉 removed while reading ({len(src.removed)}):"]
            out += [f"  {_short(d.text)}  — {d.reason}" for d in src.removed]
        out += ["", f"警告 warnings ({len(self.warnings)}):"]
        out += [f"  {'第' + str(w.line) + '行 ' if w.line else ''}{w.message}" for w in self.warnings] or ["  无 none"]
        return "\n".join(out)


def check_document(source: PlanText, title: str = "") -> PlanReport:
    """Parse ``source`` and report on it. Raises PlanParseError (naming the file and line) when it is no plan."""
    plan = parse_document(source, title)
    read = len(source_rows(source.text))
    return PlanReport(source, plan, read, accounted_lines(plan), tuple(warnings(plan)))


def check_file(path: Path, title: str = "") -> PlanReport:
    return check_document(read_document(path), title)


def accounted_lines(plan: Plan) -> int:
    """How many source lines the plan holds, each counted once."""
    lines: set[int] = {p.line for p in plan.preamble_paragraphs} | {d.line for d in plan.dropped}
    lines |= {p.line for p in plan.closing}
    if plan.title_line:
        lines.add(plan.title_line.line)
    for s in plan.sections:
        lines |= {s.line} | {x.line for x in s.subsections} | {p.line for p in s.paragraphs}
        lines |= {n for t in s.tasks for n in t.lines}
    return len(lines - {0})


def warnings(plan: Plan) -> list[CheckWarning]:
    found: list[CheckWarning] = []
    uses = Counter(u for t in plan.tasks for u in t.units)
    for t in plan.tasks:
        line = t.lines[0] if t.lines else 0
        if not t.note:
            found.append(
                CheckWarning(
                    "no_note",
                    f"{t.label}“{t.title}”没有责任单位注释。{t.label} has no note naming who is responsible.",
                    line,
                    t.ref,
                )
            )
        elif not t.units:
            found.append(
                CheckWarning(
                    "note_without_units",
                    f"{t.label}的注释没有列出单位：{t.note}。The note of {t.label} names no unit.",
                    line,
                    t.ref,
                )
            )
    for unit, n in uses.items():
        if n == 1:
            task = next(t for t in plan.tasks if unit in t.units)
            found.append(
                CheckWarning(
                    "unit_once",
                    f"“{unit}”只出现在{task.label}，请核对名称是否与其他任务一致。“{unit}” is named by one task "
                    "only: check it is spelled as elsewhere.",
                    task.lines[0] if task.lines else 0,
                    task.ref,
                )
            )
    by_ref = {t.ref: t for t in plan.tasks}
    for ref in plan.missing_refs:
        after = _next_task(plan, ref, by_ref)
        found.append(
            CheckWarning(
                "gap",
                f"编号缺口：没有第{ref}项。The numbering skips {ref}.",
                after.lines[0] if after and after.lines else 0,
            )
        )
    for n in plan.missing_sections:
        found.append(CheckWarning("section_gap", f"缺少第{n}部分。Section {n} is missing from the numbering."))
    if plan.numbering is Numbering.CONTINUOUS:
        numbers = [t.number for t in plan.tasks]
        for t, previous in zip(plan.tasks[1:], numbers, strict=False):
            if t.number < previous:
                found.append(
                    CheckWarning(
                        "out_of_order",
                        f"{t.label}排在第{previous}项之后。Task {t.number} comes after task {previous}.",
                        t.lines[0] if t.lines else 0,
                        t.ref,
                    )
                )
    for s in plan.sections:
        for p in s.paragraphs:
            found.append(
                CheckWarning(
                    "outside_task",
                    f"这段文字不属于任何任务，作为部分正文保留：{_short(p.text)}。Text outside any task, kept with "
                    "its section: is a task number missing?",
                    p.line,
                )
            )
        if s.number and not s.tasks:
            found.append(CheckWarning("empty_section", f"{s.label} 没有任务。Section {s.number} has no tasks.", s.line))
    return sorted(found, key=lambda w: (w.line == 0, w.line))


def _next_task(plan: Plan, ref: str, by_ref: dict[str, Task]) -> Task | None:
    section, _, number = ref.rpartition("-")
    n = int(number)
    for candidate in range(n + 1, n + 100):
        task = by_ref.get(f"{section}-{candidate}" if section else str(candidate))
        if task:
            return task
    return None


def _roles(task: Task) -> str:
    parts = [f"{role.label}：{'、'.join(task.with_role(role))}" for role in Role if task.with_role(role)]
    if task.leaders:
        parts.append(f"责任领导：{'、'.join(task.leaders)}")
    return "  ".join(parts) if parts else "（无责任单位 no units）"


def _task_dict(t: Task) -> dict[str, Any]:
    return {
        "ref": t.ref,
        "label": t.label,
        "number": t.number,
        "lines": list(t.lines),
        "title": t.title,
        "units": [{"unit": a.unit, "role": a.role.value} for a in t.assigned],
        "leaders": list(t.leaders),
        "note": t.note,
    }


def _dropped_dict(d: DroppedLine) -> dict[str, Any]:
    return {"line": d.line, "text": d.text, "reason": d.reason}


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
