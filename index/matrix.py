"""The responsibility matrix (任务分工表) bureau staff make by hand: tasks × units, 牵头 / 配合 / 落实 marked.

Rows are tasks in plan order (编号, 部分, 任务, 牵头单位); columns are the units, the issuer's own departments
first in order of first appearance, then local units (各县区…, schools). ``.xlsx`` (openpyxl: one sheet per plan,
the header row and task columns frozen, filters on every column) and ``.csv`` (UTF-8 with a BOM, so Excel opens the
Chinese correctly). A unit's duties (``duties``): every task it leads, supports or carries out, with the task's text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.model import Plan, Role, Task

FIXED = ("编号", "部分", "任务", "牵头单位")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Duty:
    task: Task
    role: Role
    section: str


def matrix_units(plan: Plan) -> tuple[str, ...]:
    """Every unit, the issuer's departments (leads and supports) first, then local units; each in first-seen order."""
    own: dict[str, None] = {}
    local: dict[str, None] = {}
    for task in plan.tasks:
        for a in task.assigned:
            (local if a.role is Role.LOCAL else own).setdefault(a.unit, None)
    return tuple(own) + tuple(u for u in local if u not in own)


def matrix_rows(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per task, a cell per unit holding 牵头, 配合, 落实 or nothing."""
    units = matrix_units(plan)
    header = [*FIXED, *units]
    rows = []
    for task in plan.tasks:
        section = plan.section_of(task)
        roles = {a.unit: a.role.label for a in task.assigned}
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
    for label, plan in plans:
        sheet = book.create_sheet(_sheet_name(label, used))
        header, rows = matrix_rows(plan)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
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
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def duties(plan: Plan, unit: str) -> list[Duty]:
    """Every task ``unit`` is named in, with its part, in plan order."""
    out = []
    for task in plan.tasks:
        role = task.role_of(unit)
        if role is not None:
            out.append(Duty(task, role, plan.section_of(task).label))
    return out


def _sheet_name(label: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", label)[:31] or "plan"
    name, n = base, 2
    while name in used:
        suffix = f"-{n}"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name)
    return name
