"""Fit the answer gate on the dev split: ``python -m eval.gate_fit``.

For every dev question (``eval/data/gold.jsonl`` and ``eval/data/users.jsonl``) that is answered through retrieval
(who / fact), the gate's signals for the best task are measured (``rag.gate.assess``, the code path answers take).
A question is a positive when the plan answers it and retrieval's best task is a gold task (answering is right), a
negative when it must be refused; answerable questions whose best task is wrong are left out of the fit (no gate
can make them right) but count against recall below. A logistic model (scikit-learn, standardised signals,
balanced classes) is fitted, and its coefficients written to ``rag/gate.json`` — data, not a pickle.

The operating point: the threshold with the highest dev accuracy over these questions (answered right + refused
right), among those keeping refusal recall at or above ``MIN_REFUSAL_RECALL``; ties go to the higher threshold
(refusing, with suggestions, costs a teacher less than a wrong answer). The precision/recall curve of answering
vs refusing is plotted to ``eval/reports/gate-pr.png`` and the choice explained in ``eval/reports/gate.md``.
The test split is never read here.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from config.settings import Settings
from config.wiring import load_index
from eval.cli import EVAL_DIR, REPORTS
from eval.gold import GOLD, GoldQuestion, load_gold
from index.store import PlanIndex
from rag.answer import AnswerConfig
from rag.gate import GATE_MODEL, assess
from rag.lexicon import load_lexicon
from rag.query import analyze
from rag.types import Intent, Signals

USERS = EVAL_DIR / "data" / "users.jsonl"
MIN_REFUSAL_RECALL = 0.95
FEATURES = tuple(f.name for f in fields(Signals))


@dataclass(frozen=True)
class Sample:
    id: str
    question: str
    signals: Signals
    refuse: bool  # gold: the plan does not answer it
    right_task: bool  # retrieval's best task is a gold task

    @property
    def label(self) -> int | None:
        """1: answering is right; 0: must refuse; None: answerable but retrieval's best task is wrong."""
        return 0 if self.refuse else (1 if self.right_task else None)


def samples(index: PlanIndex, questions: list[GoldQuestion], config: AnswerConfig) -> list[Sample]:
    lexicon = load_lexicon(config.lexicons)
    out = []
    for q in questions:
        query = analyze(q.question, index.plan, lexicon)
        if query.intent not in (Intent.WHO, Intent.FACT):
            continue
        assessed = assess(index, query, lexicon, config.retrieval)
        if assessed.signals is None:
            continue
        right = assessed.hits[0].task in set(q.gold_tasks)
        out.append(Sample(q.id, q.question, assessed.signals, q.refuse, right))
    return out


def matrix(rows: list[Sample]) -> np.ndarray:
    return np.array([[float(getattr(s.signals, f)) for f in FEATURES] for s in rows], dtype=np.float64)


def curve(probabilities: np.ndarray, rows: list[Sample]) -> list[dict[str, float]]:
    """Per threshold: precision and recall of answering, refusal recall, accuracy over the gated questions."""
    labels = [s.label for s in rows]
    answerable = sum(not s.refuse for s in rows)
    to_refuse = sum(s.refuse for s in rows)
    out = []
    for t in sorted(set(np.round(probabilities, 4)) | {0.0, 1.0}):
        answered = probabilities >= t
        right = sum(1 for a, y in zip(answered, labels, strict=True) if a and y == 1)
        refused_right = sum(1 for a, s in zip(answered, rows, strict=True) if not a and s.refuse)
        out.append(
            {
                "threshold": float(t),
                "precision": right / max(int(answered.sum()), 1),
                "recall": right / max(answerable, 1),
                "refusal_recall": refused_right / max(to_refuse, 1),
                "accuracy": (right + refused_right) / len(rows),
            }
        )
    return out


def choose(points: list[dict[str, float]]) -> dict[str, float]:
    """The best point; its threshold is then set midway to the next lower one, so that a question scoring
    exactly the chosen dev probability is not decided by a rounding."""
    allowed = [p for p in points if p["refusal_recall"] >= MIN_REFUSAL_RECALL] or points
    best = max(allowed, key=lambda p: (round(p["accuracy"], 6), p["threshold"]))
    lower = [p["threshold"] for p in points if p["threshold"] < best["threshold"]]
    return {**best, "threshold": (best["threshold"] + max(lower)) / 2 if lower else best["threshold"]}


def plot(points: list[dict[str, float]], chosen: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    ax.plot([p["recall"] for p in points], [p["precision"] for p in points], marker=".", lw=1)
    ax.scatter([chosen["recall"]], [chosen["precision"]], color="red", zorder=3,
               label=f"operating point p ≥ {chosen['threshold']:.3f}")  # fmt: skip
    ax.set_xlabel("recall of answering (answerable questions answered with a gold task)")
    ax.set_ylabel("precision of answering (answers citing a gold task)")
    ax.set_title("Answer gate on the dev split: answering vs refusing")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression  # only the fit needs scikit-learn; answering does not

    p = argparse.ArgumentParser(prog="python -m eval.gate_fit", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=GATE_MODEL, help="where the coefficients go (default rag/gate.json)")
    p.add_argument("--reports", type=Path, default=REPORTS)
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    args = p.parse_args(argv)

    settings = Settings()
    index = load_index(settings)
    config = AnswerConfig()
    questions = load_gold(GOLD, "dev") + load_gold(USERS, "dev")
    rows = samples(index, questions, config)
    fit_rows = [s for s in rows if s.label is not None]
    x, y = matrix(fit_rows), np.array([s.label for s in fit_rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=args.C, class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y)
    probabilities = model.predict_proba((matrix(rows) - mean) / scale)[:, 1]
    points = curve(probabilities, rows)
    chosen = choose(points)

    data = {
        "_comment": "Answer gate (rag/gate.py): logistic model over standardised signals, fitted on the dev split "
        "only by `python -m eval.gate_fit`; see eval/reports/gate.md for the curve and the operating point.",
        "fitted": time.strftime("%Y-%m-%d"),
        "questions": {"fit": len(fit_rows), "gated": len(rows), "refuse": int(sum(s.refuse for s in rows))},
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": round(chosen["threshold"], 4),
        "at_threshold": {k: round(v, 4) for k, v in chosen.items() if k != "threshold"},
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    args.reports.mkdir(parents=True, exist_ok=True)
    plot(points, chosen, args.reports / "gate-pr.png")
    (args.reports / "gate.md").write_text(report(data, points, rows, probabilities, chosen), encoding="utf-8")
    print(json.dumps({k: data[k] for k in ("questions", "coef", "intercept", "threshold", "at_threshold")}))
    return 0


def report(
    data: dict[str, object],
    points: list[dict[str, float]],
    rows: list[Sample],
    probabilities: np.ndarray,
    chosen: dict[str, float],
) -> str:
    lines = [
        "# Answer gate: fit and operating point (dev split only)",
        "",
        f"Fitted {data['fitted']} by `python -m eval.gate_fit` on the dev questions that are "
        f"answered through retrieval (who / fact; both gold sets: {data['questions']}). Positives: the plan "
        "answers and retrieval's best "
        "task is a gold task; negatives: questions to refuse. Answerable questions with a wrong best task are left "
        "out of the fit and count against recall.",
        "",
        "| signal | coefficient (standardised) |",
        "|---|---:|",
    ]
    lines += [f"| {f} | {c:+.3f} |" for f, c in zip(FEATURES, data["coef"], strict=True)]  # type: ignore[call-overload]
    lines += [
        f"| intercept | {data['intercept']:+.3f} |",
        "",
        f"**Operating point: answer when p ≥ {chosen['threshold']:.4f}.** Chosen as the highest dev accuracy over "
        f"these questions while refusal recall stays ≥ {MIN_REFUSAL_RECALL}; ties go to the higher threshold, "
        "since a refusal now offers the closest tasks (相关的可能是…) and costs a teacher less than a wrong answer. "
        f"At this point: precision {chosen['precision']:.3f}, recall {chosen['recall']:.3f}, refusal recall "
        f"{chosen['refusal_recall']:.3f}, accuracy {chosen['accuracy']:.3f}.",
        "",
        "![precision/recall](gate-pr.png)",
        "",
        "| threshold | precision | recall | refusal recall | accuracy |",
        "|---:|---:|---:|---:|---:|",
    ]
    step = max(1, len(points) // 20)
    for p in points[::step]:
        lines.append(
            f"| {p['threshold']:.3f} | {p['precision']:.3f} | {p['recall']:.3f} | {p['refusal_recall']:.3f} "
            f"| {p['accuracy']:.3f} |"
        )
    wrong = [
        (s, pr)
        for s, pr in zip(rows, probabilities, strict=True)
        if (pr >= chosen["threshold"]) != (s.label == 1) and not (s.label is None and pr < chosen["threshold"])
    ]
    lines += ["", f"Dev questions the gate gets wrong at this point ({len(wrong)}):", ""]
    lines += [
        f"- {s.id} p={pr:.3f} {'refuse' if s.refuse else 'answer'}: {s.question} — "
        + ", ".join(f"{k}={v}" for k, v in asdict(s.signals).items())
        for s, pr in wrong
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
