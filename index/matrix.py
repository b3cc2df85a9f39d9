"""The responsibility matrix (任务分工表) bureau staff make by hand: tasks × units, 牵头 / 配合 / 落实 marked.

Rows are tasks in plan order (编号, 部分, 任务, 牵头单位); columns are the units, the issuer's own departments
first in order of first appearance, then local units (各县区…, schools). ``.xlsx`` (openpyxl: one sheet per plan,
the header row and task columns frozen, filters on every column) and ``.csv`` (UTF-8 with a BOM, so Excel opens the
Chinese correctly). A unit's duties (``duties``): every task it leads, supports or carries out, with the task's text;
the workbook carries them too, a second sheet per plan (单位, 分工, 编号, 部分, 任务, 原文), one row per unit and task,
so filtering 单位 gives one unit's list. A unit named as "基教科等机关各科室" is that unit (``index/units.py``), in its
own column and in its duties, as the answers count it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.model import Plan, Role, Task
from index.units import split_collective, tasks_of

FIXED = ("编号", "部分", "任务", "牵头单位")
DUTY_HEADER = ("单位", "分工", "编号", "部分", "任务", "原文")
DUTY_SHEET_SUFFIX = " 按单位"
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Duty:
    task: Task
    role: Role
    section: str
    collective: bool = False  # named as "基教科等机关各科室"


def matrix_units(plan: Plan) -> tuple[str, ...]:
    """Every unit, the issuer's departments (leads and supports) first, then local units; each in first-seen order."""
    own: dict[str, None] = {}
    local: dict[str, None] = {}
    for task in plan.tasks:
        for a in task.assigned:
            (local if a.role is Role.LOCAL else own).setdefault(split_collective(a.unit)[0], None)
    return tuple(own) + tuple(u for u in local if u not in own)


def matrix_rows(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per task, a cell per unit holding 牵头, 配合, 落实 or nothing."""
    units = matrix_units(plan)
    header = [*FIXED, *units]
    rows = []
    for task in plan.tasks:
        section = plan.section_of(task)
        roles = {split_collective(a.unit)[0]: a.role.label for a in task.assigned}
        rows.append([task.label, section.label, task.title, "、".join(task.leads), *(roles.get(u, "") for u in units)])
    return header, rows


def matrix_csv(plan: Plan) -> bytes:
    header, rows = matrix_rows(plan)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def matrix_xlsx(plans: Sequence[tuple[str, Plan]]) -> bytes:
    """A workbook with one sheet per plan (named by ``plans``' labels, cut to Excel's 31 characters)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    used: set[str] = set()
    lead_fill = PatternFill("solid", fgColor="FFE08A")
    bold = Font(bold=True)
    for label, plan in plans:
        sheet = book.create_sheet(_sheet_name(label, used))
        header, rows = matrix_rows(plan)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        for cell in sheet[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in sheet.iter_rows(min_row=2, min_col=len(FIXED) + 1):
            for cell in row:
                if cell.value == Role.LEAD.label:
                    cell.fill = lead_fill
        sheet.freeze_panes = sheet.cell(row=2, column=len(FIXED) + 1)  # the header and the task columns stay
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
        for i, width in enumerate((12, 24, 30, 16), start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        for i in range(len(FIXED) + 1, len(header) + 1):
            sheet.column_dimensions[get_column_letter(i)].width = 6
        by_unit = book.create_sheet(_sheet_name(label[: 31 - len(DUTY_SHEET_SUFFIX)] + DUTY_SHEET_SUFFIX, used))
        by_unit.append(DUTY_HEADER)
        for row in duty_rows(plan):
            by_unit.append(row)
        for cell in by_unit[1]:
            cell.font = bold
        by_unit.freeze_panes = "A2"
        by_unit.auto_filter.ref = f"A1:{get_column_letter(len(DUTY_HEADER))}{by_unit.max_row}"
        for i, width in enumerate((18, 6, 12, 24, 30, 80), start=1):
            by_unit.column_dimensions[get_column_letter(i)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def duties(plan: Plan, unit: str) -> list[Duty]:
    """Every task ``unit`` is named in (also as "X等机关各科室"), with its part, in plan order."""
    return [Duty(a.task, a.role, plan.section_of(a.task).label, a.collective) for a in tasks_of(plan, unit)]


def duty_rows(plan: Plan) -> list[list[str]]:
    """The per-unit view of the whole plan: a row per unit and task (units in the matrix's column order)."""
    rows = []
    for unit in matrix_units(plan):
        for d in duties(plan, unit):
            rows.append([unit, d.role.label, d.task.label, d.section, d.task.title, d.task.text])
    return rows


def _sheet_name(label: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", label)[:31] or "plan"
    name, n = base, 2
    while name in used:
        suffix = f"-{n}"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name)
    return name
