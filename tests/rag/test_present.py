"""Inline citation marks, text pieces and highlight words, on real answers."""

from __future__ import annotations

import re

import pytest

from rag.answer import answer
from rag.present import highlight_terms, sentence_pieces, with_inline_citations

QUESTIONS = [
    "谁负责近视防控?",
    "基教科负责哪些任务?",
    "第12项任务是什么",
    "第四部分讲什么",
    "明天天气怎么样?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_citation_is_marked_once_and_text_is_kept(plan_index, question):
    a = answer(plan_index, question)
    text = with_inline_citations(a)
    marks = [int(n) for n in re.findall(r"【第(\d+)项】", text)]
    assert sorted(marks) == sorted(c.task for c in a.citations)
    assert re.sub(r"【第\d+项】|\n出处：", "", text) == a.text.replace("\n出处：", "")


def test_mark_follows_the_quoted_excerpt(plan_index):
    a = answer(plan_index, "谁负责近视防控?")
    top = a.citations[0]
    assert f"{top.excerpt}【第{top.task}项】" in with_inline_citations(a)


@pytest.mark.parametrize("question", QUESTIONS)
def test_pieces_join_back_to_the_text(plan_index, question):
    a = answer(plan_index, question)
    pieces = list(sentence_pieces(with_inline_citations(a)))
    assert "".join(pieces) == with_inline_citations(a)
    assert all(pieces)
    # Pieces end at sentence ends or lines, so a long answer arrives in several.
    if len(a.text) > 80:
        assert len(pieces) > 1


def test_sentence_pieces_split_after_marks():
    assert list(sentence_pieces("甲。乙！\n丙")) == ["甲。", "乙！", "\n", "丙"]


def test_highlight_terms(plan_index):
    who = answer(plan_index, "谁负责近视防控?")
    assert set(highlight_terms(plan_index, who.question, who)) == {"近视", "防控"}
    reverse = answer(plan_index, "基础教育科负责哪些任务?")
    assert highlight_terms(plan_index, reverse.question, reverse) == ("基教科",)
    task = answer(plan_index, "第12项任务是什么")
    assert highlight_terms(plan_index, task.question, task) == ()
