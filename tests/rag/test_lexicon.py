"""The lexicon as data: its file format, look-ups, and the errors that say what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.lexicon import LexiconError, available_domains, load_lexicon, parse_lexicon

SMALL = """
# a comment
@frame  <-  局里 | 这块
课后服务  <-  托管 | after-school
学生 | 儿童  <-  娃 | 孩子 | kids
特殊教育 | 残疾  <-  残疾孩子
@unit 教研室  <-  教研员
"""


def small():  # type: ignore[no-untyped-def]
    from rag.lexicon import Lexicon

    groups, frame = parse_lexicon(SMALL)
    return Lexicon(groups, ("small",), frame)


def test_the_file_format_reads_groups_units_and_framing_words() -> None:
    groups, frame = parse_lexicon(SMALL)
    assert [g.terms for g in groups] == [("课后服务",), ("学生", "儿童"), ("特殊教育", "残疾"), ("教研室",)]
    assert groups[-1].unit and not groups[0].unit
    assert frame == {"局里", "这块"}


def test_longest_words_are_read_first_and_expand_to_the_plans_terms() -> None:
    lexicon = small()
    # 残疾孩子 is one word (→ 特殊教育), not 孩子 (→ 学生) inside it; English words match whole, in lower case.
    assert lexicon.expand("残疾孩子放学后托管") == ("特殊教育", "残疾", "课后服务")
    assert lexicon.expand("after-school care for kids") == ("课后服务", "学生", "儿童")
    assert lexicon.expand("kidsafter") == ()  # not a whole word
    assert lexicon.alternatives("娃") == ("娃", "学生", "儿童")


def test_a_plan_term_in_the_question_is_read_whole_and_expands_to_nothing() -> None:
    lexicon = small()
    matches = lexicon.find("特殊教育学校")
    assert [m.said for m in matches] == ["特殊教育"] and matches[0].plan_term
    assert lexicon.expand("特殊教育学校") == ()


def test_words_of_one_length_are_read_left_to_right() -> None:
    """高中招生 is 高中 + 招生, as a reader reads it: 中招 (中考招生) across the two words is not read, whichever of the
    two forms sorts first."""
    from rag.lexicon import Lexicon

    groups, frame = parse_lexicon("普通高中 | 高中  <-  高中生\n中考  <-  中招\n")
    lexicon = Lexicon(groups, ("small",), frame)
    assert [m.said for m in lexicon.find("高中招生有啥规定")] == ["高中"]
    assert [m.said for m in lexicon.find("今年中招有啥变化")] == ["中招"]


def test_unit_aliases_only_name_units_the_plan_lists() -> None:
    lexicon = small()
    assert lexicon.units("教研员今年忙什么", ("教研室", "基教科")) == ["教研室"]
    assert lexicon.units("教研员今年忙什么", ("基教科",)) == []


def test_a_malformed_line_is_named() -> None:
    with pytest.raises(LexiconError, match=r"x.txt:2"):
        parse_lexicon("课后服务 <- 托管\n课后服务 托管\n", "x.txt")
    with pytest.raises(LexiconError, match=r"x.txt:1"):
        parse_lexicon(" <- 托管\n", "x.txt")


def test_an_unknown_domain_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "health.txt").write_text("近视 <- 眼睛\n", encoding="utf-8")
    assert available_domains(tmp_path) == ("health",)
    with pytest.raises(LexiconError, match="health"):
        load_lexicon(("sports",), tmp_path)
    assert load_lexicon(("health",), tmp_path).expand("眼睛不好") == ("近视",)


def test_the_education_lexicon_is_general_to_the_domain(plan) -> None:  # type: ignore[no-untyped-def]
    """No line names a task of the bundled plan: no task title and no figure appears in it (covid-19 aside)."""
    text = (Path(__file__).resolve().parents[2] / "lexicons" / "education.txt").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert not any(t.title in body for t in plan.tasks)
    assert not re.search(r"(?<![a-z0-9-])[0-9]", body)
    assert len(load_lexicon().groups) > 80


def test_a_unit_alias_never_crosses_levels() -> None:
    """处 is a province's office, 科 a city's, 股 a county's: 人事处 is not the 组织人事科 a city plan lists."""
    groups, frame = parse_lexicon("@unit 组织人事科 | 人事科 | 人事处  <-  人事科 | 人事处 | 管人事的\n")
    from rag.lexicon import Lexicon

    lexicon = Lexicon(groups, ("small",), frame)
    names = ("组织人事科", "基教科")
    assert lexicon.units("人事科管哪些事", names) == ["组织人事科"]
    assert lexicon.units("管人事的那个科室", names) == ["组织人事科"]  # no level said: an alias
    assert lexicon.units("人事处管哪些事", names) == []
    assert lexicon.unit_spans("人事处管哪些事", names) == []


def test_a_plan_term_stands_for_the_other_plan_terms_of_its_group() -> None:
    groups, frame = parse_lexicon("负担 | 减负 | 减负清单  <-  太累 | 压力大\n")
    from rag.lexicon import Lexicon

    lexicon = Lexicon(groups, ("small",), frame)
    match = lexicon.find("给学生减负")[0]
    assert match.plan_term and match.group.terms == ("减负", "负担", "减负清单")  # 减轻学生负担 says it too
    assert lexicon.alternatives("减负") == ("减负", "负担", "减负清单")
    assert lexicon.expand("给学生减负") == ()  # the plan's own term needs no bridge in keyword search


def test_every_domain_loads_together_by_default() -> None:
    from rag.lexicon import DEFAULT_DOMAINS

    assert set(DEFAULT_DOMAINS) == set(available_domains())  # one setting for a plan of any issuer of the family
    lexicon = load_lexicon()
    assert lexicon.domains == DEFAULT_DOMAINS and DEFAULT_DOMAINS[0] == "education"
    assert "家庭医生" in lexicon.expand("想找个私人医生")  # health
    assert len(lexicon.groups) > 900


def test_said_forms_can_be_withheld_without_touching_unit_aliases() -> None:
    """What the gate's fit uses to measure coverage as if nobody had written some entries (eval/gate_fit.py)."""
    lexicon = small().without_said(frozenset({"托管", "娃", "教研员"}))
    assert lexicon.alternatives("托管") == ("托管",) and lexicon.alternatives("娃") == ("娃",)
    assert lexicon.alternatives("孩子") == ("孩子", "学生", "儿童")  # the group's other forms stay
    assert lexicon.expand("after-school") == ("课后服务",)
    assert lexicon.units("教研员今年忙什么", ("教研室",)) == ["教研室"]  # a unit alias is not coverage
    assert small().alternatives("托管") == ("托管", "课后服务")  # the lexicon itself is unchanged


def test_the_longest_english_phrase_reads_through_its_own_group() -> None:
    """ "mental health education" is the lesson (心理健康教育), not the health service that "mental health" alone
    also names in the health domain (精神卫生, 严重精神障碍)."""
    lexicon = load_lexicon()
    expanded = lexicon.expand("Who is in charge of students' mental health education?")
    assert "心理健康教育" in expanded and "严重精神障碍" not in expanded
    assert "严重精神障碍" in lexicon.expand("Who handles mental health services?")


def test_teaching_part_time_in_schools_reads_as_the_plans_words() -> None:
    assert {"兼职任教", "进校园"} <= set(load_lexicon().expand("教练进学校兼课"))


def test_another_offices_own_name_is_a_counterpart_not_an_alias() -> None:
    groups, frame = parse_lexicon(
        # as the files write @unit groups: each lists its own left-hand names on the right too
        "@unit 电化教育馆 | 教育信息中心  <-  电教馆 | 电化教育馆 | 教育信息中心\n"
        "@unit 组织人事科 | 人事科  <-  人事股 | 组织人事科 | 人事科\n"
        "@unit 学生资助管理中心 | 学生资助中心  <-  资助中心 | 学生资助管理中心 | 学生资助中心\n"
    )
    from rag.lexicon import Lexicon

    lexicon = Lexicon(groups, ("small",), frame)
    names = ("电化教育馆", "组织人事科", "学生资助管理中心")
    assert lexicon.units("教育信息中心负责什么", names) == []  # the other city's (or year's) name for the office
    assert lexicon.counterparts("教育信息中心负责什么", names) == ["电化教育馆"]
    assert lexicon.units("电教馆负责什么", names) == ["电化教育馆"]  # what people call the plan's office
    assert lexicon.units("人事科负责什么", names) == ["组织人事科"]  # a shortening of the plan's name
    assert lexicon.units("学生资助中心负责什么", names) == ["学生资助管理中心"]
    assert lexicon.counterparts("人事科负责什么", names) == []
    assert lexicon.units("教育信息中心负责什么", ("教育信息中心",)) == ["教育信息中心"]  # the plan's own name
