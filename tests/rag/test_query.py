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
    # 归…管 around any unit word, and a 管 the asking leaves alone, are not the topic (the dense model read a
    # stray 管 as 放管服); 管 ending a word stays
    assert analyze("放学后托管归哪个科管?", plan).topic == "放学后托管"
    assert analyze("校园欺凌这事谁来 管", plan).topic == "校园欺凌这事"
    assert analyze("校外培训监管归哪个处室管?", plan).topic == "校外培训监管"
    assert analyze("教练进学校兼课找哪个处?", plan).topic == "教练进学校兼课"
    # 找谁 / 问谁 / 联系谁 ask who as 谁负责 does: no 找 left stuck to the topic
    assert analyze("专家来萍乡讲课该找谁对接?", plan).topic == "专家来萍乡讲课 对接"
    assert analyze("学生近视了问谁?", plan).topic == "学生近视"
    assert analyze("办助学贷款要联系谁?", plan).topic == "办助学贷款"


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("计财那边今年负责哪些事？", "计财科"),  # the name without 科: the plan never writes 计财 on its own
        ("计划财务科今年要做的事有哪些", "计财科"),  # nothing asked besides the unit's work
        ("督导室今年下来要盯哪些方面?", "督导室"),
        ("人事科的任务清单帮我列一下", "组织人事科"),  # a lexicon alias at the same level
    ],
)
def test_questions_about_a_units_work_in_users_words(plan, question, unit):
    from rag.lexicon import load_lexicon

    q = analyze(question, plan, load_lexicon())
    assert q.intent is Intent.REVERSE and q.units == (unit,), q


def test_a_stem_the_plan_uses_as_a_word_is_a_topic_not_a_unit(plan):
    from rag.lexicon import load_lexicon

    assert "师资" in normalize_plan(plan)  # 师资队伍: 师资 does not stand for 师资科
    q = analyze("师资队伍建设谁负责?", plan, load_lexicon())
    assert q.intent is Intent.WHO and q.units == ()


def test_a_unit_of_another_level_is_unknown_even_with_an_alias(plan):
    from rag.lexicon import load_lexicon

    q = analyze("人事处管哪些事?", plan, load_lexicon())  # the lexicon lists 人事处 beside 组织人事科
    assert q.intent is Intent.REVERSE and q.units == () and q.unknown_unit == "人事处"


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("抓党建、管干部、反腐败这些都有哪些任务？", "抓党建、管干部、反腐败"),
        ("职业教育相关的任务都列一下", "职业教育"),
        ("红色教育、党史教育的活动有哪些？", "红色教育、党史教育"),
        ("乡下学校和乡下娃今年有哪些打算?", "乡下学校、乡下娃"),
    ],
)
def test_a_roundup_keeps_the_things_its_topic_names_apart(plan, question, topic):
    q = analyze(question, plan)
    assert q.intent is Intent.ROUNDUP and q.topic == topic


def test_asking_for_measures_frames_the_question(plan):
    assert analyze("职业教育有哪些措施?", plan).topic == "职业教育"
    assert analyze("课后服务时间有什么规定?", plan).topic == "课后服务时间"


def normalize_plan(plan) -> str:  # type: ignore[no-untyped-def]
    from rag.query import plan_bodies

    return plan_bodies(plan)
