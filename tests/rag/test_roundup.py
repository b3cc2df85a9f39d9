"""Topic round-ups and unit questions in users' words, through the whole pipeline."""

from __future__ import annotations

from index.normalize import normalize
from rag.service import AnsweringService, Channel
from rag.types import Answer, Intent


def answer(service: AnsweringService, question: str) -> Answer:
    return service.ask(question, channel=Channel.CLI).answer


def test_a_roundup_lists_every_task_on_the_topic_with_its_lead_unit(service, plan) -> None:  # type: ignore[no-untyped-def]
    a = answer(service, "跟课程有关的任务有哪些?")
    assert a.found and a.intent is Intent.ROUNDUP
    saying = {t.number for t in plan.tasks if "课程" in normalize(f"{plan.section_of(t).title}{t.text}")}
    assert len(saying) >= 3 and {c.task for c in a.citations} == saying  # complete, and nothing else
    for c in a.citations:
        assert f"第{c.task}项" in a.text and f"（{c.lead_unit}牵头）" in a.text


def test_a_roundup_reads_the_topic_through_the_lexicon(service) -> None:  # type: ignore[no-untyped-def]
    a = answer(service, "跟私立学校有关的事有哪些?")  # 私立 → 民办
    assert a.intent is Intent.ROUNDUP and 15 in [c.task for c in a.citations]


def test_a_roundup_on_a_topic_no_task_names_is_asked_through_the_gate(service) -> None:  # type: ignore[no-untyped-def]
    a = answer(service, "跟航天有关的任务有哪些?")
    assert not a.found and a.intent is Intent.OUT_OF_SCOPE


def test_unit_questions_in_users_words_list_the_units_tasks(service, plan) -> None:  # type: ignore[no-untyped-def]
    for question, unit in [("安稳科今年有啥活?", "安稳科"), ("教研员们今年都忙些什么?", "教研室")]:
        a = answer(service, question)
        assert a.intent is Intent.REVERSE, question
        assert {c.task for c in a.citations} == {t.number for t in plan.tasks if unit in t.units}, question
