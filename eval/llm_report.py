"""``planqa eval --llm``: what the LLM step did on the gold questions, beside the extractive run.

The LLM run is the same answering service with generation on (``PLANQA_LLM_*``); the exact scorer judges the
text the user would read. Citations are retrieval's either way, so hit@k cannot move: what can is whether the
answer still contains the gold facts (``substrings``) and how long it takes. Beside accuracy, the report gives
how often the checks rejected the model's answer (and why), and the generation latency.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from eval.systems import PlanQASystem
from rag.types import AnswerMode

NAME = "planqa+llm"


def summary(system: PlanQASystem, budget_s: float, skip_first: int = 1) -> dict[str, Any]:
    """Rejection rate, reasons and latency of the generations (the warm-up question's left out)."""
    asked = [r for r in system.replies[skip_first:] if r.generation is not None]
    gens = [r.generation for r in asked if r.generation is not None]
    modes = Counter(r.answer.mode for r in asked)
    reasons = Counter(
        (r.answer.mode_reason or "").split(":")[0] for r in asked if r.answer.mode is AnswerMode.LLM_REJECTED
    )
    ms = np.array([g.elapsed_ms for g in gens]) if gens else np.zeros(1)
    first = np.array([g.first_token_ms for g in gens if g.first_token_ms is not None]) if gens else np.zeros(0)
    generated = len(gens)
    generator = system.service.generator
    return {
        "model": generator.config.model if generator else None,
        "prompts": sorted({g.prompt for g in gens}),
        "budget_s": budget_s,
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
