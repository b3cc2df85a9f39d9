"""Query analysis: intents, numbers, units and topics."""

from __future__ import annotations

import pytest

from rag.query import analyze
from rag.types import Intent


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("谁负责近视防控?", Intent.WHO),
        ("课后服务归哪个科室管?", Intent.WHO),
        ("控辍保学找哪个部门", Intent.WHO),
        ("谁在抓校园足球", Intent.WHO),
        ("誰負責近視防控？", Intent.WHO),
        ("Who is responsible for myopia prevention?", Intent.WHO),
        ("基教科负责近视防控吗", Intent.WHO),
        ("基教科负责哪些任务?", Intent.REVERSE),
        ("师资科管什么", Intent.REVERSE),
        ("计财科牵头几项工作", Intent.REVERSE),
        ("萍乡学院", Intent.REVERSE),
        ("大班额比例控制在多少?", Intent.FACT),
        ("职业教育有哪些措施?", Intent.FACT),
        ("第12项任务是什么", Intent.TASK),
        ("第四部分讲什么", Intent.SECTION),
    ],
)
def test_intents(plan, question, intent):
    assert analyze(question, plan).intent is intent


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("第12项任务是什么", 12),
        ("第十二项", 12),
        ("第１２项", 12),
        ("task 8", 8),
        ("任务23", 23),
        ("第二十条", 20),
    ],
)
def test_task_numbers(plan, question, number):
    q = analyze(question, plan)
    assert q.intent is Intent.TASK and q.task_number == number


@pytest.mark.parametrize("question", ["第37个教师节谁负责", "第三届中华经典诵写讲竞赛", "第四期学前教育行动计划"])
def test_ordinals_that_are_not_task_numbers(plan, question):
    assert analyze(question, plan).intent is not Intent.TASK


def test_section_number(plan):
    q = analyze("第五部分", plan)
    assert q.intent is Intent.SECTION and q.section_number == 5


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("基础教育科负责哪些任务", "基教科"),
        ("体育卫生艺术科的任务", "体卫艺科"),
        ("职业与成人教育科负责什么", "职成科"),
        ("考试中心管什么", "教育考试中心"),
        ("计划财务科牵头哪些工作", "计财科"),
    ],
)
def test_unit_aliases(plan, question, unit):
    q = analyze(question, plan)
    assert q.intent is Intent.REVERSE and q.units == (unit,)


def test_unknown_unit(plan):
    q = analyze("财务处负责哪些任务？", plan)
    assert q.intent is Intent.REVERSE and q.units == () and q.unknown_unit == "财务处"


def test_topic_drops_question_words(plan):
    assert analyze("谁负责近视防控?", plan).topic == "近视防控"
    assert analyze("请问课后服务归哪个科室管?", plan).topic == "课后服务"
