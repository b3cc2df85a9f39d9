"""The same gate and lexicon on other plans: ``python -m eval.plans [--plan ID …]``.

Each fixture plan in ``eval/data/plans/`` (other issuers, hand-written structure and gold questions) is indexed
with the real model into a temporary folder and asked its own gold questions through the answering service, with
no code or setting changed between plans. Only questions whose gold tasks today's parser reads right (title and
units equal to ``<plan>.structure.json``; for a reverse lookup, every task naming the unit) are scored: the
others measure the parser, not answering (``index/parse.py`` is being rewritten for these formats, #12). The
report says how many were scored and why the rest were not; re-run it after the parser changes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from eval.gold import GoldQuestion, Kind, load_gold
from eval.score import by_category, score_one, summarize
from eval.systems import PlanQASystem
from index.embeddings import load_embeddings
from index.errors import PlanQAError
from index.model import Plan
from index.store import build_index, corpus_title
from rag.service import AnsweringService, ServiceConfig

PLANS = Path(__file__).parent / "data" / "plans"


def parsed_right(plan: Plan, structure: dict[str, Any]) -> set[int]:
    """Numbers of the tasks the parser read as the structure says (title and units in note order)."""
    gold = {t["number"]: t for t in structure["tasks"]}
    right = set()
    for t in plan.tasks:
        g = gold.get(t.number)
        if g and t.title == g["title"] and list(t.units) == g["lead"] + g["support"] + g["local"]:
            right.add(t.number)
    return right


def scorable(q: GoldQuestion, right: set[int], structure: dict[str, Any]) -> bool:
    needed = {int(t) for t in q.gold_tasks if str(t).isdigit()}
    if len(needed) != len(q.gold_tasks):
        return False  # "3-2" references: per-section numbering, which today's parser refuses
    if q.kind is Kind.REVERSE:
        unit = q.gold_units[0] if q.gold_units else ""
        needed |= {t["number"] for t in structure["tasks"] if unit in t["lead"] + t["support"] + t["local"]}
    return needed <= right


def run_plan(plan_id: str, embeddings: Any) -> dict[str, Any]:
    text = (PLANS / f"{plan_id}.txt").read_text(encoding="utf-8")
    structure = json.loads((PLANS / f"{plan_id}.structure.json").read_text(encoding="utf-8"))
    questions = load_gold(PLANS / f"{plan_id}.gold.jsonl")
    with tempfile.TemporaryDirectory(prefix="planqa-plan-") as tmp:
        try:
            index = build_index(text, corpus_title(PLANS / f"{plan_id}.txt"), Path(tmp), embeddings)
        except PlanQAError as e:
            return {"plan": plan_id, "parsed": False, "error": str(e).split("。")[0], "questions": len(questions)}
        right = parsed_right(index.plan, structure)
        used = [q for q in questions if scorable(q, right, structure)]
        system = PlanQASystem(AnsweringService(index, ServiceConfig(answer_cache_size=0)))
        outcomes = [score_one(q, system.ask(q.question)) for q in used]
    wrong = [o.id for o in outcomes if not o.correct]
    return {
        "plan": plan_id,
        "parsed": True,
        "tasks_right": f"{len(right)}/{len(structure['tasks'])}",
        "questions": len(questions),
        "scored": len(used),
        "overall": summarize(outcomes) if outcomes else None,
        "categories": by_category(outcomes),
        "wrong": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.plans", description=__doc__.split("\n")[0])
    p.add_argument("--plan", action="append", help="a plan id (default: every plan in eval/data/plans)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "reports" / "plans.json")
    args = p.parse_args(argv)
    ids = args.plan or sorted(f.name.removesuffix(".txt") for f in PLANS.glob("*.txt"))
    embeddings = load_embeddings()
    results = [run_plan(i, embeddings) for i in ids]
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for r in results:
        if not r["parsed"]:
            print(f"{r['plan']:<22} not parsed today ({r['error']}): 0 of {r['questions']} questions scored")
            continue
        o = r["overall"] or {}
        cats = Counter({c: m["accuracy"] for c, m in r["categories"].items()})
        print(
            f"{r['plan']:<22} tasks parsed right {r['tasks_right']:<6} scored {r['scored']:>2}/{r['questions']:<3}"
            f" accuracy {o.get('accuracy')}  refusal recall {o.get('refusal_r')}  wrong {r['wrong']}"
        )
        print("    " + ", ".join(f"{c} {v}" for c, v in sorted(cats.items())))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
