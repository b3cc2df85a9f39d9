"""Answers through the whole pipeline — the answering service every channel calls: real model, real FAISS,
the bundled plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.errors import InvalidQuestionError
from rag.retrieve import RetrievalConfig, Retriever, search
from rag.service import AnsweringService, Channel
from rag.types import Answer, Intent


def answer(service: AnsweringService, question: str, top_k: int | None = None) -> Answer:
    return service.ask(question, channel=Channel.CLI, top_k=top_k).answer


def test_who_cites_the_task_and_the_sentence(service, plan):
    a = answer(service, "谁负责近视防控?")
    assert a.found and a.intent is Intent.WHO
    top = a.citations[0]
    assert top.task == 8 and top.lead_unit == "体卫艺科"
    assert "近视防控" in top.excerpt
    assert top.excerpt in plan.task(8).body  # verbatim
    assert "体卫艺科（牵头）" in a.text


def test_colloquial_who(service):
    a = answer(service, "课后服务归哪个科室管?")
    assert a.found and a.citations[0].task == 12 and a.citations[0].lead_unit == "基教科"
    assert "课后服务" in a.citations[0].excerpt


def test_answer_quotes_the_topic_only_when_it_is_one_phrase(service):
    assert answer(service, "谁负责近视防控?").text.startswith("「近视防控」见第8项")
    a = answer(service, "孩子近视越来越多，教育局哪个科管这事?")  # topic left in pieces around the asking
    assert a.found and a.citations[0].task == 8
    assert a.text.startswith("此项工作见第8项") and "「" not in a.text


def test_traditional_characters(service):
    a = answer(service, "誰負責近視防控？")
    assert a.found and a.citations[0].task == 8


def test_reverse_lookup_is_complete(service, plan):
    a = answer(service, "基教科负责哪些任务?")
    assert a.intent is Intent.REVERSE and a.found
    expected = [t.number for t in plan.tasks if any(u.startswith("基教科") for u in t.units)]
    assert [c.task for c in a.citations] == expected
    assert len(expected) > 10  # complete, not top-k
    assert 31 in expected  # named in "基教科等机关各科室"


def test_reverse_lookup_by_alias_and_unknown_unit(service):
    assert [c.task for c in answer(service, "体育卫生艺术科负责哪些任务").citations] == [8, 13, 31]
    a = answer(service, "财务处负责哪些任务？")
    assert not a.found and "财务处" in a.text and "计财科" in a.text


def test_collective_note_for_units_not_named(service):
    a = answer(service, "计财科负责哪些任务")
    assert 31 not in [c.task for c in a.citations]
    assert "第31项" in a.text and "等机关各科室" in a.text


def test_task_lookup(service, plan):
    a = answer(service, "第12项任务是什么")
    assert a.found and a.citations[0].task == 12 and a.citations[0].excerpt == plan.task(12).body


@pytest.mark.parametrize("number", [18, 22, 99])
def test_absent_task_names_the_gap(service, number):
    a = answer(service, f"第{number}项任务是什么")
    assert not a.found and a.intent is Intent.TASK
    assert "缺第18–22项" in a.text


def test_sections(service):
    a = answer(service, "第四部分是什么")
    assert a.found and [c.task for c in a.citations] == list(range(11, 18))
    missing = answer(service, "第五部分讲了什么")
    assert not missing.found and "缺第五部分" in missing.text


def test_fact_quotes_the_sentence_with_the_number(service):
    a = answer(service, "大班额比例控制在多少?")
    assert a.found and a.intent is Intent.FACT
    assert a.citations[0].task == 12 and "1%以内" in a.citations[0].excerpt


@pytest.mark.parametrize("question", ["明天天气怎么样", "高考分数线是多少", "食堂饭菜好吃吗"])
def test_out_of_scope_is_refused(service, question):
    a = answer(service, question)
    assert not a.found and a.intent is Intent.OUT_OF_SCOPE and not a.citations
    assert "没有" in a.text


@pytest.mark.parametrize("question", ["", "   ", "\u200b", "问" * 501])
def test_invalid_questions(service, question):
    with pytest.raises(InvalidQuestionError):
        answer(service, question)


def test_limit_counts_characters_not_bytes(service):
    limit = service.config.max_question_chars
    assert answer(service, "近" * limit).question == "近" * limit  # 1,500 bytes in UTF-8, 500 characters: accepted
    with pytest.raises(InvalidQuestionError, match=f"上限{limit}字"):
        answer(service, "近" * (limit + 1))


def test_top_k_bounds_citations(service):
    assert len(answer(service, "职业教育有哪些措施?", top_k=1).citations) == 1


def test_retrievers_each_find_the_task(plan_index):
    for retriever in Retriever:
        hits = search(plan_index, "推进儿童青少年近视防控", RetrievalConfig(retriever=retriever))
        assert hits[0].task == 8, retriever


def test_keyword_ranking_without_overlap_is_left_out(plan_index):
    # An English question shares no terms with the plan: hybrid must equal dense alone.
    question = "physical education and art"
    hybrid = search(plan_index, question)
    dense = search(plan_index, question, RetrievalConfig(retriever=Retriever.DENSE))
    assert [h.task for h in hybrid] == [h.task for h in dense]
    assert search(plan_index, question, RetrievalConfig(retriever=Retriever.BM25)) == []


def test_repeated_questions_come_from_the_cache(service, plan_index):
    hits = service.answer_cache.hits
    first = answer(service, "谁负责校园足球?")
    again = answer(service, "誰負責校園足球？")  # the same question once normalised
    assert service.answer_cache.hits == hits + 1
    assert again.citations == first.citations and again.question == "誰負責校園足球?"  # as asked
    uncached = AnsweringService(plan_index, replace(service.config, answer_cache_size=0))
    uncached.ask("谁负责校园足球?", channel=Channel.CLI)
    uncached.ask("谁负责校园足球?", channel=Channel.CLI)
    assert uncached.answer_cache.hits == 0 and len(uncached.answer_cache) == 0


@pytest.mark.parametrize("question", ["学生近视率是多少?", "校园足球特色学校有多少所?"])
def test_how_many_needs_a_number_in_the_matching_sentence(service, question):
    # The plan speaks of myopia and football schools, but gives no figure for either.
    a = answer(service, question)
    assert not a.found and a.intent is Intent.OUT_OF_SCOPE


def test_how_many_answered_where_the_plan_states_it(service):
    a = answer(service, "职业学校学位总容量要达到多少?")
    assert a.found and a.citations[0].task == 14 and "50%" in a.citations[0].excerpt


@pytest.mark.parametrize("question", ["萍乡中学的校长是谁?", "萍乡市教育局局长是谁?"])
def test_office_holders_are_not_in_a_plan(service, question):
    assert not answer(service, question).found
