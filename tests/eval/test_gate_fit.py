"""The gate's fit: cross-validated regularisation and an operating point chosen on held-out probabilities."""

from __future__ import annotations

import numpy as np

from eval.gate_fit import C_GRID, MIN_REFUSAL_RECALL, Sample, curve, report, study
from rag.types import Signals


def samples(n: int, seed: int = 3) -> list[Sample]:
    """Answerable questions well covered, questions to refuse less so or asking a detail, with overlap."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        refuse = i % 4 == 0
        coverage = float(np.clip(rng.normal(0.45 if refuse else 0.8, 0.2), 0, 1))
        detail = bool(refuse and rng.random() < 0.6)
        signals = Signals(float(rng.normal(3, 1)), 0.0, coverage, coverage, 0.0, detail, False, 0.3)
        rows.append(Sample(f"q-{i:03d}", f"question {i}", signals, refuse, right_task=not refuse and i % 17 != 1))
    return rows


def test_the_operating_point_is_chosen_on_held_out_probabilities() -> None:
    rows = samples(240)
    result = study(rows, ("dense_z", "soft_coverage", "detail_missing"))
    assert result.c in C_GRID and result.losses[result.c] == min(result.losses.values())
    assert result.chosen["refusal_recall"] >= MIN_REFUSAL_RECALL
    # The chosen figures are those of the held-out curve at that threshold, not of the fitted questions.
    at = [p for p in curve(result.probabilities, rows) if p["threshold"] >= result.chosen["threshold"]][0]
    assert at["accuracy"] == result.chosen["accuracy"]
    assert 0.5 < result.chosen["accuracy"] < 1.0  # overlapping classes: held out, not a perfect fit


def test_the_report_explains_the_choice() -> None:
    rows = samples(120)
    result = study(rows, ("soft_coverage", "detail_missing"))
    data = {"fitted": "today", "questions": {"fit": 110}, "coef": [1.0, -2.0], "intercept": 0.5}
    data["users_val"] = {"all": 0.8, "colloquial": 0.7}
    text = report(data, result, curve(result.probabilities, rows), rows)
    assert "Operating point: answer when p ≥" in text and "held-out" in text and f"C = {result.c}" in text
    assert "never fitted on" in text and "colloquial 0.700" in text


def test_the_dev_era_forms_are_what_people_say_not_plan_terms() -> None:
    """The withheld forms are the right-hand sides of the lexicon as written while reading the dev questions; the
    plan's own terms are never withheld (coverage through the plan's words is not leakage)."""
    from eval.gate_fit import dev_era_forms
    from rag.lexicon import load_lexicon

    forms = dev_era_forms()
    assert len(forms) > 500 and "托管" in forms
    lexicon = load_lexicon()
    plan_terms = {t for g in lexicon.groups for t in g.terms}
    reduced = lexicon.without_said(forms)
    assert {t for g in reduced.groups for t in g.terms} == plan_terms
    assert "课后服务" not in reduced.alternatives("托管") and "课后服务" in lexicon.alternatives("托管")
