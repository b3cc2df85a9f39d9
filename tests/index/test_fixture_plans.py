"""Every fixture plan of another issuer (eval/data/plans) parses exactly to its hand-written structure, and the
bundled plan exactly as parser version 2 read it: same tasks, units, gaps."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from index.check import check_document
from index.model import Numbering, Plan, Role
from index.parse import parse_plan, render_plan
from index.readers import read_document
from index.store import corpus_title
from tests.conftest import DATA

PLANS = Path(__file__).resolve().parents[2] / "eval" / "data" / "plans"
IDS = sorted(p.name.removesuffix(".structure.json") for p in PLANS.glob("*.structure.json"))


def _load(plan_id: str) -> tuple[Plan, dict]:
    path = PLANS / f"{plan_id}.txt"
    gold = json.loads((PLANS / f"{plan_id}.structure.json").read_text(encoding="utf-8"))
    return parse_plan(read_document(path).text, title=corpus_title(path)), gold


def test_there_are_six_fixture_plans_of_other_issuers() -> None:
    assert len(IDS) == 6


@pytest.mark.parametrize("plan_id", IDS)
def test_sections_tasks_and_numbering(plan_id: str) -> None:
    plan, gold = _load(plan_id)
    assert plan.title == gold["title"]
    assert plan.numbering is Numbering(gold["numbering"])
    sections = [(s.number, s.numeral, s.title) for s in plan.sections]
    assert sections == [(s["number"], s["numeral"], s["title"]) for s in gold["sections"]]
    assert [(t.ref, t.section, t.number, t.title) for t in plan.tasks] == [
        (t["ref"], t["section"], t["number"], t["title"]) for t in gold["tasks"]
    ]
    missing = plan.missing_tasks if plan.numbering is Numbering.CONTINUOUS else plan.missing_refs
    assert list(missing) == gold["missing_tasks"]


@pytest.mark.parametrize("plan_id", IDS)
def test_unit_sets_exact_for_every_task(plan_id: str) -> None:
    plan, gold = _load(plan_id)
    for want in gold["tasks"]:
        task = plan.by_ref(want["ref"])
        assert task is not None, want["ref"]
        got = {
            "lead": list(task.with_role(Role.LEAD)),
            "support": list(task.with_role(Role.SUPPORT)),
            "local": list(task.with_role(Role.LOCAL)),
            "leaders": list(task.leaders),
            "note": task.note,
        }
        assert got == {k: want[k] for k in got}, want["ref"]
        assert task.units == tuple(want["lead"] + want["support"] + want["local"])  # a who-answer's gold_units


@pytest.mark.parametrize("plan_id", IDS)
def test_no_line_lost_and_dropped_lines_exact(plan_id: str) -> None:
    path = PLANS / f"{plan_id}.txt"
    report = check_document(read_document(path), corpus_title(path))
    plan, gold = report.plan, json.loads((PLANS / f"{plan_id}.structure.json").read_text(encoding="utf-8"))
    assert report.complete and report.lines_read == report.lines_accounted
    assert [d.text for d in plan.dropped] == gold["dropped_lines"]
    assert [s.heading for sec in plan.sections for s in sec.subsections] == gold["subsection_headings"]
    assert [p.text for p in plan.preamble_paragraphs] == gold["preamble"]
    assert [p.text for p in plan.closing] == gold["trailing_lines"]
    assert all(not s.paragraphs for s in plan.sections)  # no text left outside a task


@pytest.mark.parametrize("plan_id", IDS)
def test_noise_words_inside_sentences_are_content(plan_id: str) -> None:
    """公众号, 二维码, 扫码, 分享 inside a task's sentence stay in the task (the old parser dropped the line)."""
    plan, gold = _load(plan_id)
    text = (PLANS / f"{plan_id}.txt").read_text(encoding="utf-8")
    dropped = set(gold["dropped_lines"])
    for line in text.splitlines():
        stripped = line.strip(" \u3000")
        if any(w in stripped for w in ("公众号", "二维码", "扫码", "分享会")) and stripped not in dropped:
            assert any(t.body in stripped and t.body for t in plan.tasks), stripped


@pytest.mark.parametrize("plan_id", IDS)
def test_render_then_parse_keeps_what_the_plan_says(plan_id: str) -> None:
    plan, _ = _load(plan_id)
    again = parse_plan(render_plan(plan), title=plan.title)
    assert again.sections == plan.sections and again.preamble == plan.preamble and again.closing == plan.closing


def test_the_issue_examples() -> None:
    plan, _ = _load("chenghu-talent-2022")
    assert plan.by_ref("11").title == "121人才梯队项目" and plan.by_ref("47").title == "15分钟人才服务圈建设"
    assert plan.by_ref("3").leads == ("市工商联", "市工信局")
    assert plan.by_ref("22").with_role(Role.LOCAL) == ("各区、县级市",)
    qingshan, _ = _load("qingshan-edu-2022")
    three = qingshan.by_ref("3")
    assert "加强校园网站、公众号、讲座论坛等阵地管理" in three.body
    assert qingshan.by_ref("16").with_role(Role.SUPPORT) == ("校外教育培训监管科", "督导室")
    assert qingshan.missing_tasks == ()
    sub = plan.section(1).subsections[0]
    assert (sub.numeral, sub.title) == ("一", "产业提升人才行动计划")
    assert [t.number for t in plan.section(1).subsection_tasks(1)] == list(range(1, 9))


def test_bundled_plan_parses_as_parser_version_2_did(plan: Plan) -> None:
    before = json.loads((DATA / "pingxiang-parse-v2.json").read_text(encoding="utf-8"))

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    assert list(plan.missing_tasks) == before["missing_tasks"]
    assert list(plan.missing_sections) == before["missing_sections"]
    assert sha(plan.preamble) == before["preamble_sha256"]
    assert [(s.number, s.numeral, s.title, [t.number for t in s.tasks]) for s in plan.sections] == [
        (s["number"], s["numeral"], s["title"], s["tasks"]) for s in before["sections"]
    ]
    for task, want in zip(plan.tasks, before["tasks"], strict=True):
        got = {
            "number": task.number,
            "section": task.section,
            "title": task.title,
            "units": list(task.units),
            "bureau_units": task.bureau_units,
            "lead_unit": task.lead_unit,
            "units_note": task.units_note,
            "body_sha256": sha(task.body),
            "sentences": len(task.sentences),
            "text_sha256": sha(task.text),
        }
        assert got == want
    assert sorted(d.text for d in plan.dropped) == sorted(before["dropped"])
    assert plan.numbering is Numbering.CONTINUOUS and all(t.key == t.number for t in plan.tasks)
