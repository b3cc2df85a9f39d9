"""``planqa eval --llm``: the same gold questions with LLM generation on, beside the extractive run.

The LLM system asks PlanQA exactly as the extractive one does, then lets the configured model
(``PLANQA_LLM_*``) rewrite the answer through ``rag.generate``; the exact scorer judges the text the user would
read. Citations are retrieval's either way, so hit@k cannot move: what can is whether the answer still
contains the gold facts (``substrings``) and how long it takes. Beside accuracy, the report gives how often the
checks rejected the model's answer (and why), and the generation latency.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from eval.systems import PlanQASystem
from index.store import PlanIndex
from rag.generate import Generation, Generator
from rag.types import Answer, AnswerMode

NAME = "planqa+llm"


class LLMSystem(PlanQASystem):
    """PlanQA with generation: extractive answer → LLM rewrite → checks → the answer shown.

    Asks exactly as the extractive ``PlanQASystem`` does (same config, no answer cache), so the two runs
    differ only by the rewrite.
    """

    def __init__(self, index: PlanIndex, generator: Generator, budget_s: float, name: str = NAME) -> None:
        super().__init__(index, name=name)
        self.generator, self.budget_s = generator, budget_s
        self.generations: list[Generation] = []

    def finish(self, extractive: Answer) -> Answer:
        if not self.generator.applies(extractive):
            return extractive
        generation = self.generator.generate(self.index.plan, extractive, self.budget_s)
        self.generations.append(generation)
        return generation.answer


def summary(system: LLMSystem, skip_first: int = 1) -> dict[str, Any]:
    """Rejection rate, reasons and latency of the generations (the warm-up question's left out)."""
    gens = system.generations[skip_first:]
    modes = Counter(g.mode for g in gens)
    reasons = Counter((g.answer.mode_reason or "").split(":")[0] for g in gens if g.mode is AnswerMode.LLM_REJECTED)
    ms = np.array([g.elapsed_ms for g in gens]) if gens else np.zeros(1)
    first = np.array([g.first_token_ms for g in gens if g.first_token_ms is not None]) if gens else np.zeros(0)
    generated = len(gens)
    return {
        "model": system.generator.config.model,
        "prompts": sorted({g.prompt for g in gens}),
        "budget_s": system.budget_s,
        "generated": generated,
        "accepted": modes[AnswerMode.LLM],
        "rejected": modes[AnswerMode.LLM_REJECTED],
        "rejection_rate": round(modes[AnswerMode.LLM_REJECTED] / generated, 4) if generated else None,
        "reasons": dict(reasons.most_common()),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
        "first_token_p50_ms": round(float(np.percentile(first, 50)), 1) if first.size else None,
    }


def markdown(stats: dict[str, Any]) -> list[str]:
    reasons = ", ".join(f"{k} {v}" for k, v in stats["reasons"].items()) or "none"
    return [
        "## LLM generation",
        "",
        f"Model `{stats['model']}`, prompts {', '.join(stats['prompts']) or '—'}, budget {stats['budget_s']} s. "
        f"Generated {stats['generated']} answers (questions that found something): {stats['accepted']} passed "
        f"the checks, {stats['rejected']} were rejected (rate {stats['rejection_rate']}); reasons: {reasons}.",
        f"Generation latency p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, max {stats['max_ms']} ms; "
        f"first token p50 {stats['first_token_p50_ms']} ms.",
    ]
