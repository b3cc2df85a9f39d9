"""``planqa eval --llm`` with the real local model, on a few dev questions (each costs seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import Settings
from eval import report
from eval.gold import load_gold
from eval.llm_report import NAME, summary
from eval.run import eval_service, evaluate, failures, planqa_system
from eval.systems import PlanQASystem
from index.store import PlanIndex
from tests.llm_server import MODEL_NAME

pytestmark = pytest.mark.llm


def test_llm_run_beside_the_extractive_one(
    llm_server: str, plan_index: PlanIndex, settings: Settings, tmp_path: Path
) -> None:
    questions = load_gold(split="dev")[::70]  # 2 questions (and the warm-up one)
    with_llm = settings.model_copy(
        update={
            "llm_base_url": llm_server,
            "llm_model": MODEL_NAME,
            "llm_max_tokens": 96,
            "llm_budget_web_s": 120,
        }
    )
    llm = PlanQASystem(eval_service(with_llm, plan_index, llm=True), NAME)
    results, raw = evaluate([llm, planqa_system(settings, plan_index)], questions)
    ours, extractive = results[NAME]["overall"], results["planqa"]["overall"]
    # Retrieval and citations are the same either way; only the text (and the time) may differ.
    assert ours["hit@1"] == extractive["hit@1"] and ours["refusal_r"] == extractive["refusal_r"]
    stats = summary(llm, 120)
    assert stats["generated"] == sum(p.found for p in raw[NAME][1])
    assert stats["accepted"] + stats["rejected"] == stats["generated"]
    assert stats["p50_ms"] > 0 and (stats["rejected"] == 0) == (not stats["reasons"])
    meta = {
        **report.machine(),
        "split": "dev",
        "questions": len(questions),
        "mode": "test",
        "command": "pytest",
        "llm": stats,
    }
    md, js, _ = report.write("eval-dev-llm", meta, results, failures(questions, *raw["planqa"]), [], tmp_path)
    assert f"| {NAME} |" in md.read_text(encoding="utf-8") and "## LLM generation" in md.read_text(encoding="utf-8")
    assert json.loads(js.read_text(encoding="utf-8"))["meta"]["llm"]["generated"] == stats["generated"]
