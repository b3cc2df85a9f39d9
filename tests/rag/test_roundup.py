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


def test_a_roundup_naming_several_things_lists_the_tasks_of_each(service, plan) -> None:  # type: ignore[no-untyped-def]
    a = answer(service, "党建、干部、劳动教育方面都有哪些任务?")
    assert a.found and a.intent is Intent.ROUNDUP
    cited = {c.task for c in a.citations}
    for part in ("党建", "干部", "劳动教育"):  # each part's tasks, though no task says all three
        assert {t.number for t in plan.tasks if part in normalize(t.title)} <= cited, part
    assert not any(all(p in normalize(t.text) for p in ("党建", "干部", "劳动教育")) for t in plan.tasks)


def test_a_word_many_tasks_say_lists_only_the_tasks_about_it(service, plan) -> None:  # type: ignore[no-untyped-def]
    """教师 is in a third of the tasks, most in passing ("向教师队伍建设倾斜"): the round-up lists the tasks about
    teachers — their title says it, or they say it at least a quarter as often as the task saying it most."""
    a = answer(service, "跟教师有关的任务有哪些?")
    counts = {t.number: normalize(t.text).count("教师") for t in plan.tasks}
    about = {n for n, c in counts.items() if c >= 0.25 * max(counts.values())}
    about |= {t.number for t in plan.tasks if "教师" in normalize(t.title)}
    passing = {n for n, c in counts.items() if c == 1}
    assert a.intent is Intent.ROUNDUP and {c.task for c in a.citations} == about
    assert passing and not passing & about


def test_a_roundup_asked_as_a_list_request(service) -> None:  # type: ignore[no-untyped-def]
    a = answer(service, "跟课程相关的任务都列一下")
    assert a.intent is Intent.ROUNDUP and len(a.citations) >= 3
