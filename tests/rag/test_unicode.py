"""Unicode edge cases through the real pipeline (the bundled plan, the real index): full-width digits, emoji,
zero-width and other invisible characters, byte-order marks, traditional and mixed characters, and the
question limit counted in characters, not bytes."""

from __future__ import annotations

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.errors import InvalidQuestionError
from index.model import Plan
from index.normalize import fold, normalize
from index.store import PlanIndex
from rag.limits import MAX_QUESTION_CHARS
from rag.query import analyze
from rag.service import AnsweringService, Channel, ServiceConfig, validate_question
from rag.types import Answer, Intent

S2T = opencc.OpenCC("s2t")
UNCACHED = ServiceConfig(answer_cache_size=0)
# Questions of each kind, answered from the plan.
QUESTIONS = [
    "谁负责近视防控?",
    "第12项任务是什么",
    "基教科负责哪些任务",
    "课后服务归哪个科室管?",
    "第四部分讲什么",
]
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u180e",
    "\ufe0f",
    "\u200e",
    "\u2066",
]


def _interleave(text: str, mark: str) -> str:
    return mark.join(text)


VARIANTS = {
    "full-width": lambda q: q.replace("12", "１２").replace("?", "？"),
    "emoji around": lambda q: "🤔" + q + "🙏😀",
    "emoji inside": lambda q: q[:2] + "👍" + q[2:],
    "emoji with ZWJ and skin tone": lambda q: "👨‍👩‍👧 " + q + " 👍🏽",
    "zero-width spaces": lambda q: _interleave(q, "\u200b"),
    "zero-width joiners": lambda q: _interleave(q, "\u200d"),
    "variation selectors": lambda q: _interleave(q, "\ufe0f"),
    "BOM": lambda q: "\ufeff" + q,
    "bidi marks": lambda q: "\u2066" + q + "\u2069\u200f",
    # between words, as people type them (a space inside a word, "基 教科", is another word)
    "ideographic and no-break spaces": lambda q: "\u3000" + q.replace("负责", "\u3000负责\u00a0") + "\u00a0",
    "traditional": lambda q: S2T.convert(q),
    "mixed traditional and simplified": lambda q: "".join(S2T.convert(c) if i % 2 else c for i, c in enumerate(q)),
}


def answer(index: PlanIndex, question: str) -> Answer:
    """Through the answering service, as every channel asks, without the answer cache."""
    return AnsweringService(index, UNCACHED).ask(question, channel=Channel.CLI).answer


@pytest.fixture(scope="module")
def plain_answers(plan_index: PlanIndex) -> dict[str, tuple[Intent, bool, tuple[int, ...]]]:
    return {q: _gist(answer(plan_index, q)) for q in QUESTIONS}


def _gist(a):  # type: ignore[no-untyped-def]
    return a.intent, a.found, tuple(c.task for c in a.citations[:1])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_get_the_plain_questions_answer(
    plan_index: PlanIndex, plain_answers: dict[str, tuple[Intent, bool, tuple[int, ...]]], variant: str
) -> None:
    for question in QUESTIONS:
        assert plain_answers[question][1], question  # the plain question is answered from the plan
        changed = VARIANTS[variant](question)
        assert _gist(answer(plan_index, changed)) == plain_answers[question], (variant, changed)


def test_full_width_task_numbers(plan: Plan) -> None:
    for question in ["第１２项任务是什么", "第１２項任務是什麼", "任务１２", "１２", "第⑫项"]:
        query = analyze(question, plan)
        assert (query.intent, query.task_number) == (Intent.TASK, 12), question


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.sampled_from(QUESTIONS),
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from(INVISIBLE)), max_size=8),
)
def test_invisible_characters_anywhere_change_nothing(question: str, inserts: list[tuple[int, str]]) -> None:
    text = question
    for position, mark in inserts:
        text = text[:position] + mark + text[position:]
    assert normalize(text) == normalize(question)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_normalize_takes_any_text(text: str) -> None:
    # Any str, lone surrogates included (JSON's "\ud800" decodes to one): no exception, encodable result.
    normalize(text).encode("utf-8")
    normalize(text + "\ud800" + text).encode("utf-8")


def test_question_limit_is_in_characters_not_bytes() -> None:
    cjk = "问" * MAX_QUESTION_CHARS  # 1,500 bytes in UTF-8
    emoji = "😀" * MAX_QUESTION_CHARS  # 2,000 bytes in UTF-8, 4,000 as UTF-16
    assert validate_question(cjk) == cjk
    assert validate_question(emoji) == emoji
    for too_long in (cjk + "问", emoji + "😀", "a" * (MAX_QUESTION_CHARS + 1)):
        with pytest.raises(InvalidQuestionError, match=f"{MAX_QUESTION_CHARS + 1}字"):
            validate_question(too_long)


def test_questions_of_nothing_visible_are_empty() -> None:
    for blank in ["\u200b\u200b", "\ufeff", "\u3000 \u00a0", "\ufe0f", "\ud800"]:
        assert fold(blank) == ""
        with pytest.raises(InvalidQuestionError):
            validate_question(blank)


def test_emoji_only_question_is_answered_as_not_covered(plan_index: PlanIndex) -> None:
    result = answer(plan_index, "👍👍🙏")
    assert (result.found, result.intent) == (False, Intent.OUT_OF_SCOPE)
    assert result.question == "👍👍🙏"  # the question as asked is kept; only matching ignores emoji


# Text made of what questions are made of, and of what they should not be: plan words, numbers in every width,
# emoji, invisible and bidi characters, traditional characters, punctuation of both widths.
QUESTION_PIECES = st.one_of(
    st.sampled_from(
        ["谁负责", "第", "项", "部分", "基教科", "近视防控", "課後服務", "哪些任务", "负责什么", "十二", "12"]
    ),
    st.sampled_from(
        ["１２", "⑫", "Ⅻ", "😀", "👨‍👩‍👧", "1️⃣", "🇨🇳", "\u200b", "\ufeff", "\u202e", "\ufe0f", "？", "?", "、"]
    ),
    st.text(max_size=5),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(QUESTION_PIECES, min_size=1, max_size=10).map("".join))
def test_any_question_is_answered_or_refused_as_invalid(plan_index: PlanIndex, question: str) -> None:
    try:
        result = answer(plan_index, question)
    except InvalidQuestionError:
        assert not fold(question)
        return
    assert result.text and result.intent in set(Intent)
    assert all(plan_index.plan.task(c.task) is not None for c in result.citations)
