"""Responsibility notes read into roles: every key, bracket and separator of the family, and the unit rules."""

from __future__ import annotations

import pytest

from index.model import Role
from index.notes import is_note_line, note_span, read_note
from index.parse import parse_plan


def roles(note: str) -> tuple[list[str], list[str], list[str], list[str]]:
    r = read_note(note)
    by = {role: [a.unit for a in r.assigned if a.role is role] for role in Role}
    return by[Role.LEAD], by[Role.SUPPORT], by[Role.LOCAL], list(r.leaders)


@pytest.mark.parametrize(
    ("note", "want"),
    [
        # 责任单位: the first unit leads, the rest of the head supports, the tail after the comma is local.
        (
            "(责任单位:宣教科、组织人事科、机关党委,各县区教育行政部门、市直学校)",
            (["宣教科"], ["组织人事科", "机关党委"], ["各县区教育行政部门", "市直学校"], []),
        ),
        # 牵头单位 / 配合单位 separated by ；
        (
            "（牵头单位：基础教育科；配合单位：校外教育培训监管科、督导室）",
            (["基础教育科"], ["校外教育培训监管科", "督导室"], [], []),
        ),
        # … or by ，, with several leads
        ("（牵头单位：市工商联、市工信局，配合单位：市委统战部）", (["市工商联", "市工信局"], ["市委统战部"], [], [])),
        # 责任领导 are people, listed apart; 责任科室 then 配合单位
        (
            "（责任领导：陈副主任；责任科室：财务科、人事科；配合单位：市医疗保障局）",
            (["财务科"], ["人事科", "市医疗保障局"], [], ["陈副主任"]),
        ),
        ("（责任领导：主任、王副主任；责任科室：医政医管科）", (["医政医管科"], [], [], ["主任", "王副主任"])),
        # half-width brackets and separators, full-width brackets inside a unit
        (
            "(责任处室:体育场馆管理处、群众体育处,各县（市、区）人民政府)",
            (["体育场馆管理处"], ["群众体育处"], ["各县（市、区）人民政府"], []),
        ),
        ("(责任处室:群众体育处;配合单位:市体育总会)", (["群众体育处"], ["市体育总会"], [], [])),
        # 承办单位, non-collective local units after the comma
        ("(承办单位:教育股、教研室,梅溪一中、梅溪二中)", (["教育股"], ["教研室"], ["梅溪一中", "梅溪二中"], [])),
        # 配合单位 with a tail: the units after its first comma are local; an enumeration of levels is one unit
        (
            "（牵头单位：市人社局，配合单位：市农业农村局、市财政局，各区、县级市）",
            (["市人社局"], ["市农业农村局", "市财政局"], ["各区、县级市"], []),
        ),
        # a collective unit is local even without a comma before it
        (
            "（牵头单位：市委组织部，配合单位：各区、县级市党委组织部）",
            (["市委组织部"], [], ["各区、县级市党委组织部"], []),
        ),
        (
            "（责任科室：基层卫生健康科，各县（市、区）人民政府）",
            (["基层卫生健康科"], [], ["各县（市、区）人民政府"], []),
        ),
        # 各区 followed by a unit that is no level: two units
        ("（责任单位：教育局，各区、市直学校）", (["教育局"], [], ["各区", "市直学校"], [])),
        # a note closed by 。
        ("（责任单位：办公室）。", (["办公室"], [], [], [])),
    ],
)
def test_roles_by_the_rules(note: str, want: tuple) -> None:
    assert roles(note) == want


def test_only_a_keyed_bracket_closing_the_text_is_a_note() -> None:
    assert note_span("做好工作。（责任单位：办公室）") == 5
    assert note_span("做好工作。（此件公开发布）") is None  # bracketed, but no key
    assert note_span("（责任单位：办公室）之后还有文字。") is None  # not at the end
    assert note_span("实施“十四五”规划（2021—2025年）") is None
    assert is_note_line("（责任领导：王副主任；责任科室：体制改革科）")
    assert not is_note_line("做好工作。（责任单位：办公室）")


def test_own_line_notes_and_tasks_without_notes_in_a_plan() -> None:
    plan = parse_plan(
        "一、总则\n"
        "（1）推进医共体建设。覆盖全部县（市、区）。\n"
        "（责任领导：王副主任；责任科室：体制改革科、基层卫生健康科）\n"
        "（2）做好信访工作。畅通渠道。\n"
        "（3）3岁以下婴幼儿照护。新增托位。\n"
        "（责任科室：人口科，各县（市、区）人民政府）\n"
    )
    one, two, three = plan.tasks
    assert one.leaders == ("王副主任",) and one.leads == ("体制改革科",) and one.lines == (2, 3)
    assert two.units == () and two.note == "" and two.leaders == ()  # does not inherit a neighbour's note
    assert three.title == "3岁以下婴幼儿照护" and three.with_role(Role.LOCAL) == ("各县（市、区）人民政府",)
