"""``planqa eval --plan ID|all``: score PlanQA on the fixture plans of other issuers (``eval/data/plans``).

Each plan is read and indexed as an operator would (``index/readers``, ``build_index``) into a temporary folder,
then its own questions go through the same answering service the server builds, with the same settings for every
plan: nothing here knows a plan. The report has one row per plan and the answer accuracy per category for each.

Each plan has two sets of questions (refs "12" or "3-2"): ``<id>.gold.jsonl``, written with the plan (dev and test
splits), and ``<id>.val.jsonl`` (``--plan-questions val``), twelve more written blind later in users' words —
colloquial who-questions, English, near misses — never tuned on.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from config.settings import Settings
from eval import report
from eval.gold import load_gold
from eval.score import by_category, outcome_dict, summarize
from index.embeddings import PlanQAEmbeddings, load_embeddings
from index.readers import read_document
from index.store import PlanIndex, build_index, corpus_title

PLANS = Path(__file__).parent / "data" / "plans"
QUESTION_SETS = ("gold", "val")


def plan_ids() -> list[str]:
    """Every fixture plan with a gold file."""
    return sorted(p.name.removesuffix(".gold.jsonl") for p in PLANS.glob("*.gold.jsonl"))


def plan_file(plan_id: str) -> Path:
    return PLANS / f"{plan_id}.txt"


def question_file(plan_id: str, questions: str = "gold") -> Path:
    """A plan's questions: ``gold`` (written with the plan) or ``val`` (written blind later, in users' words)."""
    if questions not in QUESTION_SETS:
        raise ValueError(f"no question set {questions!r}; known: {', '.join(QUESTION_SETS)}")
    return PLANS / f"{plan_id}.{questions}.jsonl"


def index_plan(plan_id: str, index_dir: Path, embeddings: PlanQAEmbeddings) -> PlanIndex:
    """Read, parse, embed and persist one fixture plan under ``index_dir`` (its title from its meta file)."""
    path = plan_file(plan_id)
    return build_index(read_document(path).text, corpus_title(path), index_dir, embeddings)


def evaluate_plan(
    plan_id: str, split: str, settings: Settings, index: PlanIndex, questions: str = "gold"
) -> dict[str, Any]:
    from eval.run import failures, planqa_system, run  # the in-process system, as ``planqa eval`` builds it

    asked = load_gold(question_file(plan_id, questions), split)
    outcomes, predictions = run(planqa_system(settings, index), asked)
    return {
        "overall": summarize(outcomes),
        "categories": by_category(outcomes),
        "failures": failures(asked, outcomes, predictions),
        "outcomes": [outcome_dict(o) for o in outcomes],
        "tasks": len(index.plan.tasks),
        "numbering": index.plan.numbering.value,
    }


def main(args: argparse.Namespace, settings: Settings) -> int:
    ids = plan_ids() if args.plan == "all" else [args.plan]
    unknown = [i for i in ids if i not in plan_ids()]
    if unknown:
        print(f"planqa eval: no fixture plan {unknown[0]!r}; known: {', '.join(plan_ids())}, all")
        return 2
    split = args.split or "all"
    embeddings = load_embeddings(settings.embedding_model)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="planqa-eval-plans-") as tmp:
        for plan_id in ids:
            index = index_plan(plan_id, Path(tmp) / plan_id, embeddings)
            results[plan_id] = evaluate_plan(plan_id, split, settings, index, args.plan_questions)
    chosen = "" if args.plan_questions == "gold" else f" --plan-questions {args.plan_questions}"
    meta = {
        **report.machine(),
        "split": split,
        "questions": args.plan_questions,
        "command": f"planqa eval --plan {args.plan} --split {split}{chosen}",
    }
    asked = "" if args.plan_questions == "gold" else f"-{args.plan_questions}"  # eval-plans-val-all.md
    stem = f"eval-plans{asked}-{split}" if args.plan == "all" else f"eval-plan-{args.plan}{asked}-{split}"
    paths = write(stem, meta, results, args.out)
    print("\n".join(table(results)))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    """The per-plan table, then answer accuracy per category per plan (Markdown)."""
    fmt = report._fmt
    lines = [
        "| plan | tasks | numbering | n | answer acc | hit@1 | units exact | lead unit | refusal P | refusal R |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for plan_id, r in results.items():
        o = r["overall"]
        cells = [o[k] for k in ("n", "accuracy", "hit@1", "unit_exact", "lead_acc", "refusal_p", "refusal_r")]
        lines.append(f"| {plan_id} | {r['tasks']} | {r['numbering']} | " + " | ".join(fmt(c) for c in cells) + " |")
    cats = sorted({c for r in results.values() for c in r["categories"]})
    lines += ["", "| category | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for cat in cats:
        cells = [
            f"{fmt(r['categories'][cat]['accuracy'])} ({r['categories'][cat]['n']})" if cat in r["categories"] else "—"
            for r in results.values()
        ]
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    return lines


def write(stem: str, meta: dict[str, Any], results: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    body = [
        f"# PlanQA on other issuers' plans — {meta.get('questions', 'gold')} questions, split `{meta['split']}`",
        "",
        f"Run {meta['date']} on {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, commit "
        f"{meta['commit'] or '?'}. Regenerate: `{meta['command']}`. Each plan indexed from its file in "
        "`eval/data/plans/`, the same code and settings for every plan.",
        "",
        *table(results),
    ]
    for plan_id, r in results.items():
        if r["failures"]:
            body += ["", f"## {plan_id}: questions answered wrongly ({len(r['failures'])})", ""]
            body += ["| id | question | gold | got |", "|---|---|---|---|"]
            body += [f"| {f['id']} | {f['question']} | {f['gold']} | {f['got']} |" for f in r["failures"]]
    md.write_text("\n".join(body) + "\n", encoding="utf-8")
    js.write_text(json.dumps({"meta": meta, "results": results}, ensure_ascii=False) + "\n", encoding="utf-8")
    return [md, js]
