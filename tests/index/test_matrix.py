"""The responsibility matrix (index/matrix.py) and the per-unit view, on Pingxiang and the six fixture plans: a unit's
duties are exactly the tasks the answers give for "X负责哪些任务" (``index/units.py: tasks_of``, "X等机关各科室"
included), the matrix marks exactly those cells, and the workbook's per-unit sheet holds the same rows; the same
view from the API and the CLI."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout

import pytest
from fastapi.testclient import TestClient

from api import cli
from config.settings import DEFAULT_CORPUS, ROOT
from eval.plans import plan_ids
from index.matrix import DUTY_HEADER, DUTY_SHEET_SUFFIX, FIXED, duties, matrix_csv, matrix_rows, matrix_xlsx
from index.model import Plan
from index.readers import parse_document, read_document
from index.store import corpus_title
from index.units import tasks_of, unit_names

PLANS = ROOT / "eval" / "data" / "plans"


def _plan(plan_id: str) -> Plan:
    path = DEFAULT_CORPUS if plan_id == "pingxiang-edu-2021" else PLANS / f"{plan_id}.txt"
    return parse_document(read_document(path), corpus_title(path))


PLAN_IDS = ["pingxiang-edu-2021", *plan_ids()]


@pytest.mark.parametrize("plan_id", PLAN_IDS)
def test_each_units_duties_are_its_tasks_and_its_matrix_column(plan_id: str) -> None:
    plan = _plan(plan_id)
    header, rows = matrix_rows(plan)
    columns = header[len(FIXED) :]
    assert not [c for c in columns if "等机关" in c]  # "X等机关各科室" is X's column, not a column of its own
    for unit in unit_names(plan):
        found = duties(plan, unit)
        assert [d.task.key for d in found] == [a.task.key for a in tasks_of(plan, unit)], unit
        marked = {row[0]: row[len(FIXED) + columns.index(unit)] for row in rows if unit in columns}
        assert {label: role for label, role in marked.items() if role} == {d.task.label: d.role.label for d in found}


def test_a_unit_named_with_the_other_departments_has_that_task() -> None:
    plan = _plan("pingxiang-edu-2021")
    mine = {d.task.key: d for d in duties(plan, "基教科")}
    assert mine[31].collective and not mine[12].collective
    assert mine[12].role.label == "牵头" and mine[8].role.label == "配合"
    header, rows = matrix_rows(plan)
    row31 = next(r for r in rows if r[0] == "第31项")
    assert row31[header.index("基教科")] and row31[header.index("体卫艺科")] == "牵头"


def test_the_workbook_has_a_per_unit_sheet_per_plan() -> None:
    from openpyxl import load_workbook

    plans = [(p, _plan(p)) for p in ("pingxiang-edu-2021", "qingshan-edu-2022")]
    book = load_workbook(io.BytesIO(matrix_xlsx(plans)))
    assert book.sheetnames == [
        "pingxiang-edu-2021",
        "pingxiang-edu-2021" + DUTY_SHEET_SUFFIX,
        "qingshan-edu-2022",
        "qingshan-edu-2022" + DUTY_SHEET_SUFFIX,
    ]
    for plan_id, plan in plans:
        sheet = book[plan_id + DUTY_SHEET_SUFFIX]
        assert [c.value for c in sheet[1]] == list(DUTY_HEADER)
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:F{sheet.max_row}"
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        for unit in unit_names(plan):
            # Filtering 单位 gives the unit's duties, each with its role and the task as written.
            got = [(r[1], r[2], r[5]) for r in rows if r[0] == unit]
            assert got == [(d.role.label, d.task.label, d.task.text) for d in duties(plan, unit)], unit


def test_csv_has_one_column_per_unit() -> None:
    plan = _plan("qingshan-edu-2023")
    rows = list(csv.reader(io.StringIO(matrix_csv(plan).decode("utf-8-sig"))))
    header, body = matrix_rows(plan)
    assert rows[0] == header and rows[1:] == body and len(set(header)) == len(header)


def test_the_cli_prints_a_units_duties(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["matrix", "pingxiang-edu-2021", "--unit", "基础教育科", "--json"]) == 0
    body = json.loads(out.getvalue())
    plan = _plan("pingxiang-edu-2021")
    assert body["unit"] == "基教科"  # the alias, read as the plan writes it
    assert [d["key"] for d in body["duties"]] == [d.task.key for d in duties(plan, "基教科")]
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["matrix", "pingxiang-edu-2021", "--unit", "基教科"]) == 0
    text = out.getvalue()
    assert text.startswith("基教科在《萍乡市教育局2021年工作要点》中的分工：共15项") and "第31项 · " in text
    assert cli.main(["matrix", "pingxiang-edu-2021", "--unit", "不存在的科"]) == 1
    assert "不存在的科" in capsys.readouterr().err


def test_the_api_gives_the_same_duties(client: TestClient) -> None:
    plan = _plan("pingxiang-edu-2021")
    r = client.get("/plans/pingxiang-edu-2021/units/基础教育科/duties")
    assert r.status_code == 200
    body = r.json()
    assert body["unit"] == "基教科"
    assert [(d["key"], d["role_label"], d["collective"]) for d in body["duties"]] == [
        (d.task.key, d.role.label, d.collective) for d in duties(plan, "基教科")
    ]
    tasks = client.get("/units/基础教育科/tasks").json()  # the plan view of the same unit agrees
    assert [t["number"] for t in tasks["tasks"]] == [d["key"] for d in body["duties"]]
    r = client.get("/plans/pingxiang-edu-2021/units/不存在的科/duties")
    assert r.status_code == 404 and "不存在的科" in r.json()["error"]["message"]
