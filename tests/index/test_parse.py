"""The parser on the bundled plan and on hand-made plans of the same family."""

from __future__ import annotations

import pytest

from index.errors import PlanParseError
from index.model import Numbering
from index.parse import parse_plan
from tests.conftest import DATA


def test_bundled_plan_structure(plan):
    numbers = [t.number for t in plan.tasks]
    assert numbers == list(range(1, 18)) + list(range(23, 32))
    assert plan.missing_tasks == (18, 19, 20, 21, 22)
    assert plan.missing_sections == (5,)
    assert [s.numeral for s in plan.sections] == ["一", "二", "三", "四", "六", "七"]
    assert plan.section(4).title == "着力构建优质均衡的教育公共服务体系"


def test_task_title_body_sentences_and_units(plan):
    task = plan.task(8)
    assert task.title == "大力加强体育、美育工作"
    assert task.sentences[0] == "大力加强体育、美育工作。"
    assert any("近视防控" in s for s in task.sentences)
    assert "".join(task.sentences) == task.body
    assert task.units == ("体卫艺科", "教育评估监测中心", "基教科", "各县区教育行政部门", "市直学校")
    assert task.lead_unit == "体卫艺科"
    assert task.bureau_units == 3
    assert "责任单位" not in task.body


def test_local_units_kept_as_listed_and_collective_verbatim(plan):
    assert plan.task(11).units[-1] == "市直有关学校"
    assert plan.task(14).units[-4:] == ("萍乡电大", "萍乡学院", "萍乡卫生职业学院", "萍乡市工业学校")
    assert plan.task(31).units == ("体卫艺科", "基教科等机关各科室", "各县区教育行政部门", "市直学校")


def test_noise_dropped_and_preamble_kept_once(plan):
    dropped = [d.text for d in plan.dropped]
    assert "摘要" in dropped
    assert any("二维码" in d for d in dropped)
    assert all(d.reason and d.line > 0 for d in plan.dropped)
    assert all("二维码" not in t.body and "服务号" not in t.body for t in plan.tasks)
    assert plan.preamble.startswith("2021年是中国共产党成立100周年")
    assert plan.preamble.count("全市教育工作的总体思路是") == 1
    assert not plan.preamble.endswith("...")


def test_full_width_punctuation_and_separators():
    plan = parse_plan((DATA / "fullwidth-plan.txt").read_text(encoding="utf-8"))
    assert [t.number for t in plan.tasks] == [1, 2, 3]
    assert plan.task(1).units == ("组织人事科", "各县区教育局")
    assert plan.task(1).bureau_units == 1
    assert plan.task(2).units == ("机关党委", "办公室", "市直学校")
    assert plan.task(3).title == "推进课后服务提质"
    assert "１００％" in plan.task(3).body  # quoted verbatim, not normalised
    assert plan.missing_tasks == () and plan.missing_sections == ()


def test_other_city_continuations_missing_units_and_gaps():
    plan = parse_plan((DATA / "other-city-plan.txt").read_text(encoding="utf-8"))
    assert plan.task(1).units == ("德育科", "教研室", "各县(市、区)教育局")
    # A continuation paragraph and a units note on its own line both belong to task 2.
    assert "劳动教育课时每周不少于1课时" in plan.task(2).body
    assert plan.task(2).units == ("德育科",)
    assert plan.task(5).units[1] == "德育科等机关各科室"
    assert plan.missing_tasks == (3, 4)
    assert plan.missing_sections == (2,)
    assert "扫一扫关注我们" in [d.text for d in plan.dropped]
    assert plan.preamble == "2022年全市教育工作的总体要求是:稳中求进。"


def test_task_without_units_has_no_lead():
    plan = parse_plan("一、总则\n1.做好一件事。细节在此。\n2.再做一件事。(责任单位:办公室)\n")
    assert plan.task(1).units == () and plan.task(1).lead_unit is None
    assert plan.task(2).lead_unit == "办公室"


def test_decimal_at_line_start_is_not_a_task():
    plan = parse_plan("一、总则\n1.安排资金。\n1.5亿元用于校舍改造。\n2.4万个学位年内建成。\n2.建设校舍。\n")
    assert [t.number for t in plan.tasks] == [1, 2]
    assert "1.5亿元" in plan.task(1).body and "2.4万个学位" in plan.task(1).body


def test_digits_after_the_number_start_a_task_only_in_sequence():
    plan = parse_plan("一、总则\n10.做事。\n11.121人才梯队项目。内容。\n12.15分钟健身圈。\n3.5个百分点以上。\n")
    assert [(t.number, t.title) for t in plan.tasks] == [(10, "做事"), (11, "121人才梯队项目"), (12, "15分钟健身圈")]
    assert plan.task(12).body.endswith("3.5个百分点以上。")  # not task 3: the sequence is at 13


@pytest.mark.parametrize("text", ["", "只是一段普通文字。", "一、只有标题\n二、还是标题"])
def test_text_without_tasks_is_a_parse_error(text):
    with pytest.raises(PlanParseError, match="No numbered tasks"):
        parse_plan(text)


def test_duplicate_task_numbers_are_refused_naming_the_lines():
    with pytest.raises(PlanParseError, match="Line 4: task number 2 repeats \\(first at line 3\\)"):
        parse_plan("一、甲\n1.第一件事。\n2.第二件事。\n2.又是第二件。\n")
    with pytest.raises(PlanParseError, match="unique in its section"):
        parse_plan("一、甲\n1.第一件事。\n二、乙\n1.又是第一件。\n1.再一次。\n")


def test_numbering_that_restarts_in_each_section_gives_section_refs():
    plan = parse_plan("一、甲\n1.第一件事。\n2.第二件事。\n二、乙\n1.又是第一件。\n3.第三件。\n")
    assert plan.numbering is Numbering.PER_SECTION
    assert [(t.ref, t.key, t.label) for t in plan.tasks] == [
        ("1-1", 1, "第一部分第1项"),
        ("1-2", 2, "第一部分第2项"),
        ("2-1", 3, "第二部分第1项"),
        ("2-3", 4, "第二部分第3项"),
    ]
    assert plan.missing_refs == ("2-2",) and plan.missing_tasks == ()


def test_title_line_becomes_the_plan_title():
    plan = parse_plan((DATA / "other-city-plan.txt").read_text(encoding="utf-8"))
    assert plan.title == "赣州市教育局2022年工作要点"
    assert parse_plan("一、甲\n1.做事。", title="给定标题").title == "给定标题"


def test_units_note_kept_verbatim(plan):
    assert plan.task(1).units_note == "责任单位:宣教科、组织人事科、机关党委,各县区教育行政部门、市直学校"
    assert plan.task(1).text.endswith("(责任单位:宣教科、组织人事科、机关党委,各县区教育行政部门、市直学校)")
