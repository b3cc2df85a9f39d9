"""Answers over plans of other issuers: roles (谁牵头 / 谁配合), leaders, tasks addressed by section and number,
sub-sections, tasks without a note — through the answering service every channel uses."""

from __future__ import annotations

import pytest

from config.settings import Settings
from config.wiring import build_service
from rag.present import with_inline_citations
from rag.service import AnsweringService, Channel


@pytest.fixture(scope="module")
def ask(fixture_index, settings: Settings):  # type: ignore[no-untyped-def]
    services: dict[str, AnsweringService] = {}

    def ask(plan_id: str, question: str, conversation_id: str | None = None):  # type: ignore[no-untyped-def]
        if plan_id not in services:
            services[plan_id] = build_service(settings, fixture_index(plan_id))
        return services[plan_id].ask(question, channel=Channel.CLI, conversation_id=conversation_id).answer

    return ask


def test_who_supports_names_the_supporting_units_and_who_leads_the_lead(ask) -> None:
    a = ask("qingshan-edu-2022", "“双减”工作谁配合？")
    assert a.found and a.citations[0].ref == "16"
    assert a.text.startswith("第16项的配合单位：校外教育培训监管科、督导室。")
    assert a.citations[0].units == ("基础教育科", "校外教育培训监管科", "督导室")
    lead = ask("qingshan-edu-2022", "“双减”工作由哪个科室牵头?")
    assert lead.citations[0].lead_unit == "基础教育科" and "基础教育科（牵头）" in lead.text
    assert "配合单位" not in lead.text.split("\n")[0]


def test_tasks_offered_for_a_near_miss_are_addressed_by_section_and_number(ask) -> None:
    """A plan numbered per section: the offered task carries its ref ("2-3") and label, as a citation would."""
    a = ask("yunling-health-2023", "疫苗接种点在哪?")
    assert not a.found and not a.citations
    assert [(s.ref, s.label) for s in a.suggestions][:1] == [("3-2", "第三部分第2项")]
    assert "相关的可能是：第三部分第2项“加强重大疾病防控”" in a.text


def test_which_edition_is_an_ordinal_the_plan_states_not_a_date(ask) -> None:
    """哪一届 asks which one (第十三届), not when: the plan states it, so the answer quotes the sentence that does."""
    a = ask("qingshan-edu-2023", "中小学生艺术展演是哪一届?")
    assert a.found and [c.ref for c in a.citations] == ["7"] and "第十三届中小学生艺术展演" in a.text
    assert a.evidence is not None and not a.evidence.signals.detail_missing


def test_several_leads_are_each_marked(ask) -> None:
    a = ask("chenghu-talent-2022", "企业家素质提升项目谁负责?")
    assert a.citations[0].ref == "3" and "市工商联（牵头）、市工信局（牵头）、市委统战部" in a.text


def test_a_task_by_section_and_number_in_a_plan_numbered_per_section(ask) -> None:
    a = ask("yunling-health-2023", "第五部分第3项是什么?")
    assert (
        a.found
        and [c.ref for c in a.citations] == ["5-3"]
        and a.text.startswith("第五部分第3项（五、守护全生命周期健康）")
    )
    assert with_inline_citations(a).count("【第五部分第3项】") == 1
    assert not ask("yunling-health-2023", "第四部分第5项是什么?").found  # 四 has 3 tasks
    absent = ask("yunling-health-2023", "第9项任务是什么?")
    assert not absent.found and "第一部分第1–5项" in absent.text
    several = ask("cuifeng-sport-2023", "第3项是什么?")  # one 第3项 in each of six sections
    assert several.found and [c.ref for c in several.citations] == ["1-3", "2-3", "3-3", "4-3", "5-3", "6-3"]


def test_section_and_number_in_a_continuously_numbered_plan(ask) -> None:
    a = ask("qingshan-edu-2022", "第三部分第2项是什么?")
    assert [c.ref for c in a.citations] == ["11"]  # section 三's second task


def test_who_for_a_task_without_a_note_says_so_and_refuses(ask) -> None:
    a = ask("qingshan-edu-2022", "第9项家庭教育指导的责任单位是谁?")
    assert not a.found and a.citations[0].ref == "9" and "未列出责任单位" in a.text
    b = ask("meixi-edu-2023", "家长课堂专栏由哪个股室负责?")
    assert not b.found and "未列出责任单位" in b.text


def test_leaders_are_people_asked_for_apart(ask) -> None:
    a = ask("yunling-health-2023", "“医疗服务价格和薪酬制度改革”的责任领导是谁?")
    assert a.found and a.citations[0].ref == "1-3" and "责任领导：陈副主任" in a.text
    assert "陈副主任" not in a.citations[0].units


def test_a_sub_section_heading_lists_its_tasks(ask) -> None:
    a = ask("chenghu-talent-2022", "产业提升人才行动计划包括哪些项目?")
    assert [c.ref for c in a.citations] == [str(n) for n in range(1, 9)] and "产业领军人才集聚项目" in a.text
    section = ask("chenghu-talent-2022", "第一部分有哪些任务?")
    assert len(section.citations) == 22  # the three （一）（二）（三） headings are not tasks


def test_reverse_lookup_says_each_role(ask) -> None:
    a = ask("qingshan-edu-2022", "督导室负责哪些任务?")
    assert [c.ref for c in a.citations] == ["10", "16", "18"]
    assert "第16项 深入推进“双减”工作（配合）" in a.text and "第18项 深化新时代教育评价改革（牵头）" in a.text
    local = ask("chenghu-talent-2022", "各区、县级市要承担哪些任务?")
    assert [c.ref for c in local.citations] == ["22", "41"] and "（落实）" in local.text
    units = ask("yunling-health-2023", "各县（市、区）人民政府要承担哪些任务?")
    assert [c.ref for c in units.citations] == ["2-3", "3-4", "5-3"]


def test_an_office_the_plan_calls_by_another_name_is_offered_not_claimed(ask) -> None:
    """Qingshan's 2022 plan lists 电化教育馆, its 2023 plan 教育信息中心 (the office renamed): asked of one plan by
    the other's name, the answer says the plan has no such unit and offers the plan's office with its tasks."""
    a = ask("qingshan-edu-2022", "教育信息中心今年都忙些啥?")
    assert not a.found and not a.citations
    assert a.text.startswith("计划中没有“教育信息中心”，计划里做这方面工作的可能是名称不同的电化教育馆。")
    assert "相关的可能是：第14项“规范招生入学管理”" in a.text
    assert [s.task for s in a.suggestions] == [14, 15]
    short = ask("qingshan-edu-2022", "电教馆今年都忙些啥?")  # what people call it: the plan's unit
    assert short.found and [c.ref for c in short.citations] == ["14", "15"]


def test_follow_ups_address_tasks_by_section(ask) -> None:
    first = ask("yunling-health-2023", "第二部分第1项的牵头单位是谁?", conversation_id="fam-1")
    assert first.citations[0].ref == "2-1" and "医政医管科" in first.text
    original = ask("yunling-health-2023", "这项任务的原文", conversation_id="fam-1")
    assert original.citations[0].ref == "2-1" and original.text.startswith("第二部分第1项原文")


def test_how_questions_about_a_task_quote_its_measures(ask) -> None:
    a = ask("cuifeng-sport-2023", "怎么丰富青少年体育活动?")
    assert a.citations[0].ref == "2-3" and "夏令营" in a.text and "全年参与学生不少于5万人次" in a.text


def test_a_plan_numbered_per_section_keeps_extractive_answers_with_an_llm(fixture_index, settings) -> None:
    """The LLM cites 【第N项】 by number, which a per-section plan does not have: it is never asked (here it
    points at a closed port, so asking it would show as llm_rejected)."""
    from rag.generator import Generator, LLMConfig
    from rag.service import AnsweringService, ServiceConfig
    from rag.types import AnswerMode

    generator = Generator(LLMConfig(base_url="http://127.0.0.1:9/v1", model="none"))
    service = AnsweringService(fixture_index("yunling-health-2023"), ServiceConfig(), generator)
    reply = service.ask("托育机构建设谁负责？", channel=Channel.CLI)
    assert reply.answer.found and reply.answer.mode is AnswerMode.EXTRACTIVE and reply.generation is None
    assert "【第五部分第3项】" in reply.answer.text
