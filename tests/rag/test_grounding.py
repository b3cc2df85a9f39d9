"""The checks every generated answer passes before it is shown (no model needed: the texts are given)."""

from __future__ import annotations

import pytest

from index.model import Plan
from rag.answer_stream import _complete_sentences
from rag.grounding import check, cited_tasks, numbers_in

# Task 14 (职业教育): "学位总容量达到高中阶段学位总数的50%", units 职成科 (lead), 师资科, 计财科, …
GOOD = "全市所有中职学校要达到国家设置标准，学位总容量达到高中阶段学位总数的50%。【第14项】"


def test_a_faithful_answer_passes(plan: Plan) -> None:
    assert check(GOOD, plan, [14, 15], question="职业教育要达到什么目标?")


def test_full_width_digits_and_citations_are_normalised(plan: Plan) -> None:
    assert check("学位总容量达到高中阶段学位总数的５０％。【第１４项】", plan, [14])


def test_citing_a_task_that_was_not_retrieved_is_rejected(plan: Plan) -> None:
    verdict = check(GOOD + "另见【第1项】。", plan, [14, 15])
    assert not verdict and verdict.reason == "uncited_task:1"
    assert check("见第十二项。", plan, [14]).reason == "uncited_task:12"


def test_a_number_absent_from_the_cited_text_is_rejected(plan: Plan) -> None:
    verdict = check("学位总容量达到高中阶段学位总数的60%。【第14项】", plan, [14])
    assert not verdict and verdict.reason == "number_not_in_source:60%"
    # 50% is in task 14, not in task 15: the number must be in what the answer cites.
    assert not check("学位总容量达到50%。【第15项】", plan, [14, 15])
    assert not check("到二〇二五年全面完成。【第14项】", plan, [14])


def test_numbers_of_the_question_and_title_may_be_repeated(plan: Plan) -> None:
    assert check("2021年要推进职业教育提质扩容。【第14项】", plan, [14])


def test_a_unit_the_cited_task_does_not_list_is_rejected(plan: Plan) -> None:
    assert check("由职成科牵头，计财科配合。【第14项】", plan, [14])
    verdict = check("由体卫艺科牵头。【第14项】", plan, [14])
    assert not verdict and verdict.reason == "unit_not_in_source:体卫艺科"
    # An alias resolves to the plan's name before the check: 体育卫生艺术科 → 体卫艺科.
    assert check("由体育卫生艺术科牵头。【第14项】", plan, [14]).reason == "unit_not_in_source:体卫艺科"


def test_saying_the_plan_is_silent_despite_evidence_is_rejected(plan: Plan) -> None:
    verdict = check("工作要点中没有提到近视防控的责任单位。【第8项】", plan, [8])
    assert not verdict and verdict.reason.startswith("claims_not_mentioned")
    assert check("工作要点中没有提到这一点。【第8项】", plan, [8], evidence=False)


def test_a_final_answer_must_cite_but_a_streamed_prefix_need_not(plan: Plan) -> None:
    assert check("学位总容量达到高中阶段学位总数的50%。", plan, [14]).reason == "no_citation"
    assert check("学位总容量达到高中阶段学位总数的50%。", plan, [14], final=False)
    assert check("  ", plan, [14]).reason == "empty"


def test_extractors() -> None:
    assert cited_tasks("见【第8项】和第十二项，以及第3、5项") == [8, 12, 3, 5]
    assert numbers_in("2021年达到30%，“十四五”期间，第8项，统一规划") == ["2021", "30%", "十四五"]


@pytest.mark.parametrize(
    ("text", "ready", "rest"),
    [
        ("第一句。第二", "第一句。", "第二"),
        ("第一句。", "", "第一句。"),  # a citation may still follow the mark
        ("第一句。【第8", "", "第一句。【第8"),
        ("第一句。【第8项】第二句", "第一句。【第8项】", "第二句"),
        ("甲。乙！丙", "甲。乙！", "丙"),
    ],
)
def test_streamed_text_is_released_by_whole_sentences(text: str, ready: str, rest: str) -> None:
    assert _complete_sentences(text) == (ready, rest)
