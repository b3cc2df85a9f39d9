"""Generation with the real local model (llama.cpp server on loopback): grounded, checked, bounded in time.

Few calls, short answers: the model takes a few seconds per answer on 2 cores. Skip with -m "not llm".
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from index.store import PlanIndex
from rag.answer import answer
from rag.answer_stream import Generation
from rag.generator import Generator, LLMConfig
from rag.grounding import check, cited_tasks
from rag.prompts import PROMPTS_DIR
from rag.types import Answer, AnswerMode, Intent
from tests.llm_server import MODEL_NAME

pytestmark = pytest.mark.llm
BUDGET = 120.0  # seconds: ~5 s per answer on 2 idle cores, far more when the machine is shared


def generate(generator: Generator, index: PlanIndex, extractive: Answer, budget_s: float) -> tuple[Answer, Generation]:
    """Run a generation to its end: the final answer and what the model did."""
    stream = generator.stream(index.plan, extractive, budget_s)
    for _ in stream:
        pass
    assert stream.answer is not None and stream.generation is not None
    return stream.answer, stream.generation


@pytest.fixture(scope="module")
def generator(llm_server: str) -> Generator:
    return Generator(LLMConfig(base_url=llm_server, model=MODEL_NAME))


def crafted(tmp_path: Path, context: str, before: bool, llm_server: str) -> Generator:
    """A generator whose answer prompt plants ``context`` (text that is not the plan's) before or after the
    retrieved tasks: the model is led, not edited, into an answer the checks must catch."""
    for name in ("answer.v1.md", "explain.v1.md"):
        shutil.copy(PROMPTS_DIR / name, tmp_path / name)
    path = tmp_path / "answer.v1.md"
    planted = f"{context}\n{{context}}\n" if before else f"{{context}}\n{context}\n"
    path.write_text(path.read_text(encoding="utf-8").replace("{context}\n", planted), "utf-8")
    return Generator(LLMConfig(base_url=llm_server, model=MODEL_NAME, prompts_dir=tmp_path, max_tokens=80))


def test_a_fact_answer_is_written_over_the_retrieved_tasks_and_passes_the_checks(
    generator: Generator, plan_index: PlanIndex
) -> None:
    extractive = answer(plan_index, "职业教育要达到什么目标?")
    assert extractive.found and extractive.intent is Intent.FACT
    result, generation = generate(generator, plan_index, extractive, BUDGET)
    assert result.mode is AnswerMode.LLM, (result.mode_reason, generation.llm_text)
    given = {c.task for c in extractive.citations}
    assert set(cited_tasks(result.text)) <= given and cited_tasks(result.text)
    assert check(result.text, plan_index.plan, given, question=extractive.question)
    assert result.citations == extractive.citations  # citations come from retrieval, not from the model
    assert result.text != extractive.text and generation.prompt == "answer.v1"


@pytest.mark.parametrize(
    ("context", "before", "reason"),
    [  # measured: the model takes the planted text (a task number it cites, a fact it copies)
        (
            "【第25项】全市职业院校学位总容量要达到高中阶段学位总数的50%，由第25项负责落实。",
            False,
            "uncited_task:25",
        ),
        ("【第14项】职业教育的目标是：中职学校达标率达到87%。", True, "number_not_in_source:87%"),
    ],
)
def test_a_provoked_ungrounded_answer_is_rejected(
    context: str, before: bool, reason: str, tmp_path: Path, llm_server: str, plan_index: PlanIndex
) -> None:
    extractive = answer(plan_index, "职业教育要达到什么目标?")
    assert 25 not in {c.task for c in extractive.citations}
    result, generation = generate(crafted(tmp_path, context, before, llm_server), plan_index, extractive, BUDGET)
    assert result.mode is AnswerMode.LLM_REJECTED, generation.llm_text
    assert result.mode_reason == reason, generation.llm_text
    assert result.text == extractive.text


def test_a_who_answer_streams_the_structured_part_first_then_checked_sentences(
    generator: Generator, plan_index: PlanIndex
) -> None:
    extractive = answer(plan_index, "谁负责近视防控?")
    assert extractive.intent is Intent.WHO
    stream = generator.stream(plan_index.plan, extractive, budget_s=BUDGET)
    pieces = list(stream)
    # Whatever the model writes, the structured answer (units, lead, task number) leads, verbatim, at once.
    assert pieces[0] == extractive.text + "\n\n"
    result, generation = stream.answer, stream.generation
    assert result is not None and generation is not None and generation.prompt == "explain.v1"
    assert "".join(pieces).strip() == result.text
    if result.mode is AnswerMode.LLM:
        assert len(pieces) >= 2
        added = result.text[len(extractive.text) :]
        assert check(added, plan_index.plan, [c.task for c in extractive.citations], question=extractive.question)
    else:  # rejected: the extractive answer exactly, with the reason
        assert result.text == extractive.text and result.mode_reason
    assert generation.first_token_ms is None or generation.first_token_ms < generation.elapsed_ms


def test_over_budget_the_extractive_answer_comes_back_in_time(generator: Generator, plan_index: PlanIndex) -> None:
    extractive = answer(plan_index, "特殊教育方面今年有什么安排?")
    started = time.perf_counter()
    result, _ = generate(generator, plan_index, extractive, 0.5)
    elapsed = time.perf_counter() - started
    assert result.mode is AnswerMode.LLM_REJECTED and result.mode_reason == "timeout"
    assert result.text == extractive.text
    assert elapsed < 3.0  # the budget, plus building the client and the extractive answer
