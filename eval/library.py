"""``planqa eval --library``: the plan library — Pingxiang 2021 and the six fixture plans served together.

Three scores, all through ``LibraryService`` exactly as the channels ask it (no answer cache, "today" in 2023 as
the gold files assume):

- **routing** (``eval/data/library/routing.jsonl``): each question names a plan by year, city, issuer or relative
  time and must land on it — the plan of the first citation (of the reply, for a refusal) — and be right by the
  usual checks (``eval/score.py``). Landing is reported for all questions and for those that name a year or a city.
- **together vs alone**: each plan's own gold questions (``eval/data/gold.jsonl`` for Pingxiang,
  ``eval/data/plans/<id>.gold.jsonl``), asked of the library with ``plan=<id>`` and of the plan's service alone
  (the same index): accuracy side by side.
- **year over year** (``eval/data/library/diff.jsonl``): a comparison is right when it compares the two gold plans
  and its text holds every expected detail with the tasks cited in both plans, or, for a comparison that cannot be
  made, refuses for the gold reason.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from config.settings import DEFAULT_CORPUS, Settings
from config.wiring import build_library, service_config
from eval import report
from eval.gold import GoldQuestion, load_gold
from eval.plans import PLANS, plan_ids
from eval.run import run
from eval.score import by_category, score_one, summarize
from eval.systems import PlanQASystem
from index.catalog import meta_path
from index.embeddings import load_embeddings
from index.normalize import normalize
from rag.library import LibraryService
from rag.service import AnsweringService, Channel

LIBRARY_DATA = Path(__file__).parent / "data" / "library"
PINGXIANG = "pingxiang-edu-2021"
TODAY = 2023  # the gold files' "today" (eval/data/library/README.md)


def library_folder(target: Path) -> Path:
    """A plans folder holding the bundled plan and the six fixture plans, each with its meta.json."""
    target.mkdir(parents=True, exist_ok=True)
    for plan_file in [DEFAULT_CORPUS, *(PLANS / f"{p}.txt" for p in plan_ids())]:
        shutil.copy(plan_file, target / plan_file.name)
        if meta_path(plan_file).exists():
            shutil.copy(meta_path(plan_file), target / meta_path(plan_file).name)
    return target


def eval_library(settings: Settings, folder: Path, index_dir: Path) -> LibraryService:
    """The library as the server builds it from ``folder``, without an answer cache, today in 2023."""
    lib_settings = settings.model_copy(
        update={"plans": folder, "index_dir": index_dir, "current_year": TODAY, "rebuild_index": True}
    )
    config = replace(service_config(lib_settings), answer_cache_size=0)
    return build_library(lib_settings, config=config, llm=False)


def load_routing(split: str) -> list[tuple[GoldQuestion, str]]:
    out = []
    for line in (LIBRARY_DATA / "routing.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        plan = row.pop("plan")
        q = GoldQuestion.model_validate(row)
        if split == "all" or q.split.value == split:
            out.append((q, plan))
    return out


def evaluate_routing(library: LibraryService, split: str) -> dict[str, Any]:
    rows = load_routing(split)
    system = PlanQASystem(library, "planqa-library")
    _, predictions = run(system, [q for q, _ in rows])
    names = library.shelf.names
    outcomes, detail = [], []
    for (q, plan), p in zip(rows, predictions, strict=True):
        o = score_one(q, p)
        landed = p.plan == plan
        outcomes.append(replace(o, correct=o.correct and landed))
        said = {n.kind for n in names.names(normalize(q.question))}
        detail.append({"id": q.id, "plan": plan, "got_plan": p.plan, "landed": landed, "correct": o.correct and landed,
                       "year_or_city": bool(said & {"year", "region", "title", "issuer"}),
                       "question": q.question})  # fmt: skip
    year_city = [d for d in detail if d["year_or_city"]]
    return {
        "overall": summarize(outcomes),
        "categories": by_category(outcomes),
        "landed": _share(d["landed"] for d in detail),
        "landed_year_or_city": _share(d["landed"] for d in year_city),
        "n_year_or_city": len(year_city),
        "misses": [d for d in detail if not d["correct"]],
    }


def own_gold(plan_id: str, split: str) -> list[GoldQuestion]:
    if plan_id == PINGXIANG:
        return load_gold(Path(__file__).parent / "data" / "gold.jsonl", split)
    return load_gold(PLANS / f"{plan_id}.gold.jsonl", split)


def evaluate_together(library: LibraryService, split: str) -> dict[str, Any]:
    """Each plan's own gold questions: asked of the library (``plan=<id>``) and of the plan's service alone."""
    out: dict[str, Any] = {}
    for meta in library.plans:
        questions = own_gold(meta.id, split)
        together = PlanQASystem(library, "together", plan=meta.id)
        entry = library.entry(meta.id)
        alone = PlanQASystem(AnsweringService(entry.service.index, library.config), "alone")
        t_out, _ = run(together, questions)
        a_out, _ = run(alone, questions)
        out[meta.id] = {
            "n": len(questions),
            "together": summarize(t_out)["accuracy"],
            "alone": summarize(a_out)["accuracy"],
        }
    return out


def evaluate_diff(library: LibraryService, split: str) -> dict[str, Any]:
    rows = [json.loads(x) for x in (LIBRARY_DATA / "diff.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if split == "all" or r["split"] == split]
    results = []
    for r in rows:
        reply = library.ask(r["question"], channel=Channel.EVAL)
        c = reply.comparison
        text = normalize(reply.answer.text)
        why = ""
        if c is None:
            ok, why = False, "not read as a comparison"
        elif r["refuse"]:
            ok = c.refused == r["reason"]
            why = "" if ok else f"refused={c.refused!r}"
        else:
            cited = {(x.plan, str(x.ref or x.task)) for x in reply.answer.citations}
            old, new = r["plans"]
            missing = [d for e in r["expect"] for d in e["details"] if normalize(d) not in text]
            uncited = [
                ref
                for e in r["expect"]
                for ref in ([(old, str(e["old_ref"]))] if e["old_ref"] is not None else [])
                + ([(new, str(e["new_ref"]))] if e["new_ref"] is not None else [])
                if ref not in cited
            ]
            ok = c.refused == "" and (c.old, c.new) == (old, new) and not missing and not uncited
            why = "" if ok else f"plans={c.old},{c.new} missing={missing} uncited={uncited} refused={c.refused!r}"
        results.append({"id": r["id"], "question": r["question"], "correct": ok, "why": why})
    return {"n": len(results), "accuracy": _share(x["correct"] for x in results),
            "refusals": _share(x["correct"] for x, r in zip(results, rows, strict=True) if r["refuse"]),
            "comparisons": _share(x["correct"] for x, r in zip(results, rows, strict=True) if not r["refuse"]),
            "misses": [x for x in results if not x["correct"]]}  # fmt: skip


def _share(values: Any) -> float:
    items = list(values)
    return round(sum(bool(v) for v in items) / len(items), 4) if items else 0.0


def main(args: argparse.Namespace, settings: Settings) -> int:
    split = args.split or "all"
    load_embeddings(settings.embedding_model)
    with tempfile.TemporaryDirectory(prefix="planqa-eval-library-") as tmp:
        library = eval_library(settings, library_folder(Path(tmp) / "plans"), Path(tmp) / "index")
        results = {
            "routing": evaluate_routing(library, split),
            "together": evaluate_together(library, split),
            "diff": evaluate_diff(library, split),
        }
    meta = {**report.machine(), "split": split, "command": f"planqa eval --library --split {split}"}
    lines = table(results)
    print("\n".join(lines))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"eval-library-{split}.md", out / f"eval-library-{split}.json"
    head = [f"# The plan library — split `{split}`", "",
            f"Run {meta['date']} on {meta['cpu']} ({meta['cores']} cores), commit {meta['commit'] or '?'}. "
            f"Regenerate: `{meta['command']}`.", ""]  # fmt: skip
    misses = ["", "## Misses", ""]
    misses += [f"- routing {m['id']}: {m['question']} → {m['got_plan'] or '—'} (gold {m['plan']})"
               for m in results["routing"]["misses"]]  # fmt: skip
    misses += [f"- diff {m['id']}: {m['question']} — {m['why']}" for m in results["diff"]["misses"]]
    md.write_text("\n".join(head + lines + misses) + "\n", encoding="utf-8")
    js.write_text(json.dumps({"meta": meta, "results": results}, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {md}, {js}")
    return 0


def table(results: dict[str, Any]) -> list[str]:
    r, d = results["routing"], results["diff"]
    lines = [
        "| routing | n | landed on the named plan | landed (names a year or city) | answer accuracy |",
        "|---|---:|---:|---:|---:|",
        f"| routing.jsonl | {r['overall']['n']} | {r['landed']:.3f} | {r['landed_year_or_city']:.3f} "
        f"({r['n_year_or_city']}) | {r['overall']['accuracy']:.3f} |",
        "",
        "| plan | questions | alone | together | difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for plan_id, x in results["together"].items():
        lines.append(
            f"| {plan_id} | {x['n']} | {x['alone']:.3f} | {x['together']:.3f} | {x['together'] - x['alone']:+.3f} |"
        )
    lines += [
        "",
        "| year over year | n | accuracy | comparisons | refusals |",
        "|---|---:|---:|---:|---:|",
        f"| diff.jsonl | {d['n']} | {d['accuracy']:.3f} | {d['comparisons']:.3f} | {d['refusals']:.3f} |",
    ]
    return lines
