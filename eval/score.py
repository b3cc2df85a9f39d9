"""Exact scoring of predictions against gold labels. No LLM judge: every label is a set or a substring.

Per question (``Outcome``): hit@1, hit@3 and reciprocal rank over the gold tasks; for "who", whether the first
citation's unit set equals the gold set and its lead unit is the gold lead; for reverse lookups, the cited task
set's precision and recall; whether every ``must_contain`` substring is in the answer; whether the system
refused. ``correct`` is the one overall verdict:

- a question to refuse is correct only when the system refuses (answering it is the worst error);
- who: found, and the first citation's unit set equals the gold units (lead first);
- reverse: found, and the cited task set equals the gold set;
- round-up: found, every gold task cited, and nothing outside ``gold_tasks`` ∪ ``also_ok``;
- task, section, fact: found, the first citation is a gold task, and every substring is in the answer.

Citation precision (who, fact and round-up answers): the share of cited tasks that are in ``gold_tasks`` ∪
``also_ok`` — a secondary citation a teacher cannot see the point of counts against it.

Shown@1 (questions the plan answers from one task: who, fact, task, section): a gold task is the first one put
before the teacher — cited first, or, when the system refused, offered first ("相关的可能是：第12项…"; the closest
tasks that say one of the question's words). Its gap to hit@1 is, near enough, what the answer gate refused
although the right task was in hand; its gap to 1 is retrieval's (no gate can answer better than the task it has).
Systems that never offer tasks score it as hit@1.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eval.gold import GoldQuestion, Kind
from eval.systems import Prediction


@dataclass(frozen=True)
class Outcome:
    id: str
    category: str
    kind: str
    refuse: bool  # gold: the plan cannot answer
    refused: bool  # the system said so
    correct: bool
    ms: float
    hit1: float | None = None  # None where not applicable (refusals, reverse lookups)
    hit3: float | None = None
    rr: float | None = None
    unit_exact: float | None = None
    lead_ok: float | None = None
    substr_ok: float | None = None
    rev_precision: float | None = None
    rev_recall: float | None = None
    cite_precision: float | None = None
    shown1: float | None = None  # a gold task cited first, or offered first when the system refused


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def score_one(q: GoldQuestion, p: Prediction) -> Outcome:
    refused = not p.found
    base: dict[str, Any] = {
        "id": q.id,
        "category": q.category.value,
        "kind": q.kind.value,
        "refuse": q.refuse,
        "refused": refused,
    }
    if q.refuse:
        return Outcome(**base, correct=refused, ms=p.ms)
    gold = {str(t) for t in q.gold_tasks}  # refs: 12 and "12" are one task; "3-2" is section 3's task 2
    tasks = [] if refused else [str(t) for t in p.tasks]
    fields: dict[str, Any] = {}
    allowed = gold | {str(t) for t in q.also_ok}
    if q.kind is Kind.REVERSE:
        cited = set(tasks)
        fields["rev_precision"] = len(cited & gold) / len(cited) if cited else 0.0
        fields["rev_recall"] = len(cited & gold) / len(gold)
        ok = cited == gold
    elif q.kind is Kind.ROUNDUP:
        cited = set(tasks)
        fields["hit1"] = float(bool(tasks) and tasks[0] in gold)
        ok = gold <= cited <= allowed
    else:
        rank = next((i for i, t in enumerate(tasks) if t in gold), None)
        fields["hit1"] = float(rank == 0)
        fields["hit3"] = float(rank is not None and rank < 3)
        fields["rr"] = 1.0 / (rank + 1) if rank is not None else 0.0
        first = (tasks or list(p.offered))[:1]
        fields["shown1"] = float(bool(first) and first[0] in gold)
        ok = rank == 0
    if q.kind in (Kind.WHO, Kind.FACT, Kind.ROUNDUP) and tasks:
        fields["cite_precision"] = sum(t in allowed for t in tasks) / len(tasks)
    if q.kind is Kind.WHO:
        units = () if refused else p.units
        fields["unit_exact"] = float(set(units) == set(q.gold_units))
        fields["lead_ok"] = float(bool(units) and units[0] == q.lead_unit)
        ok = ok and fields["unit_exact"] == 1.0 and fields["lead_ok"] == 1.0
    if q.must_contain:
        text = "" if refused else _norm(p.text)
        fields["substr_ok"] = float(all(_norm(s) in text for s in q.must_contain))
        ok = ok and fields["substr_ok"] == 1.0
    return Outcome(**base, correct=bool(ok and not refused), ms=p.ms, **fields)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 4) if present else None


def summarize(outcomes: list[Outcome]) -> dict[str, float | int | None]:
    """Aggregate metrics of a group of outcomes (a category, or all)."""
    ms = np.array([o.ms for o in outcomes]) if outcomes else np.zeros(1)
    to_refuse = [o for o in outcomes if o.refuse]
    refused = [o for o in outcomes if o.refused]
    tp = sum(o.refuse for o in refused)
    return {
        "n": len(outcomes),
        "accuracy": _mean([float(o.correct) for o in outcomes]),
        "hit@1": _mean([o.hit1 for o in outcomes]),
        "hit@3": _mean([o.hit3 for o in outcomes]),
        "mrr": _mean([o.rr for o in outcomes]),
        "shown@1": _mean([o.shown1 for o in outcomes]),
        "unit_exact": _mean([o.unit_exact for o in outcomes]),
        "lead_acc": _mean([o.lead_ok for o in outcomes]),
        "substring": _mean([o.substr_ok for o in outcomes]),
        "reverse_p": _mean([o.rev_precision for o in outcomes]),
        "reverse_r": _mean([o.rev_recall for o in outcomes]),
        "cite_p": _mean([o.cite_precision for o in outcomes]),
        "refusal_p": round(tp / len(refused), 4) if refused else None,
        "refusal_r": round(tp / len(to_refuse), 4) if to_refuse else None,
        "answered_unanswerable": sum(o.refuse and not o.refused for o in outcomes),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def by_category(outcomes: list[Outcome]) -> dict[str, dict[str, float | int | None]]:
    cats: dict[str, list[Outcome]] = {}
    for o in outcomes:
        cats.setdefault(o.category, []).append(o)
    return {c: summarize(os) for c, os in cats.items()}


def outcome_dict(o: Outcome) -> dict[str, object]:
    return {k: v for k, v in asdict(o).items() if v is not None}
