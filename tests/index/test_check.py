"""The check report: counts every line, lists what was dropped and why, and warns about what looks doubtful."""

from __future__ import annotations

from index.check import check_document
from index.readers import PlanText

PLAN = """某县教育局2023年工作要点
扫一扫在手机打开当前页
为做好工作，制定本要点。
一、加强党建
这一段不属于任何任务。
1.强化理论武装。组织学习。（责任单位：办公室、人事股，各学校）
2.推进清廉建设。开展教育。
4.加强宣传。通过公众号发布信息。（责任单位：办公室）
二、推进改革
三、保障安全
1、守牢底线。开展检查。
"""


def test_warnings_name_the_line_and_what_to_check() -> None:
    report = check_document(PlanText("plan.txt", "txt", PLAN))
    assert report.complete and report.lines_read == report.lines_accounted == 11
    codes = [(w.code, w.line) for w in report.warnings]
    assert ("outside_task", 5) in codes  # text between a heading and the first task
    assert ("no_note", 7) in codes and ("no_note", 11) in codes
    assert report.plan.numbering.value == "per_section"  # 三 starts again at 1
    assert ("gap", 8) in codes and report.plan.missing_refs == ("1-3",)  # the warning sits at task 4
    assert ("unit_once", 6) in codes and ("unit_once", 8) not in codes  # 办公室 is named twice
    assert ("empty_section", 9) in codes
    assert [(d.line, d.text) for d in report.plan.dropped] == [(2, "扫一扫在手机打开当前页")]
    assert "通过公众号发布信息" in report.plan.by_ref("1-4").body
    backwards = check_document(PlanText("b.txt", "txt", "一、甲\n1.一。\n3.三。\n2.二。\n"))
    assert [(w.code, w.line) for w in backwards.warnings if w.code == "out_of_order"] == [("out_of_order", 4)]


def test_the_report_as_json_and_as_text() -> None:
    report = check_document(PlanText("plan.txt", "txt", PLAN))
    data = report.as_dict()
    assert data["lines"] == {"read": 11, "accounted": 11}
    assert data["sections"][0]["tasks"][0]["units"] == [
        {"unit": "办公室", "role": "lead"},
        {"unit": "人事股", "role": "support"},
        {"unit": "各学校", "role": "local"},
    ]
    assert data["dropped"] == [{"line": 2, "text": "扫一扫在手机打开当前页", "reason": data["dropped"][0]["reason"]}]
    text = report.render()
    assert "牵头：办公室  配合：人事股  落实：各学校" in text and "第2行  扫一扫在手机打开当前页" in text
    assert "编号缺口 gaps: 1-3" in text
