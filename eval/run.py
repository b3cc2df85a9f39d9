"""``planqa eval``: run the gold questions through PlanQA (and, with ``--compare``, the baselines), score, report."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from config.settings import Settings
from config.wiring import build_service, load_index, service_config
from eval import report
from eval.gold import GOLD, GoldQuestion, load_gold
from eval.score import Outcome, by_category, outcome_dict, score_one, summarize
from eval.systems import HttpSystem, LangChainBaseline, PlanQASystem, Prediction, RetrieverBaseline, System
from index.readers import read_document
from index.store import PlanIndex
from rag.retrieve import Retriever
from rag.service import AnsweringService

WARM_UP = "谁负责近视防控?"  # first calls load jieba's dictionary and OpenCC's tables: not the question's cost


def run(system: System, questions: list[GoldQuestion]) -> tuple[list[Outcome], list[Prediction]]:
    system.ask(WARM_UP)
    predictions = [system.ask(q.question) for q in questions]
    return [score_one(q, p) for q, p in zip(questions, predictions, strict=True)], predictions


def evaluate(systems: list[System], questions: list[GoldQuestion]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per system: overall and per-category metrics; and the raw outcomes and predictions."""
    results: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for s in systems:
        outcomes, predictions = run(s, questions)
        results[s.name] = {"overall": summarize(outcomes), "categories": by_category(outcomes)}
        raw[s.name] = (outcomes, predictions)
    return results, raw


def failures(
    questions: list[GoldQuestion], outcomes: list[Outcome], predictions: list[Prediction]
) -> list[dict[str, Any]]:
    out = []
    for q, o, p in zip(questions, outcomes, predictions, strict=True):
        if o.correct:
            continue
        if q.refuse:
            gold = "refuse"
        elif q.kind.value == "reverse":
            gold = f"{q.gold_units[0]}: {q.gold_tasks}"
        else:
            gold = (
                f"{q.gold_tasks}"
                + (f" {q.lead_unit}" if q.lead_unit else "")
                + (f" ∋ {'/'.join(q.must_contain)}" if q.must_contain else "")
            )
        got = "refused" if not p.found else f"{list(p.tasks)}" + (f" {p.units[0]}" if p.units and q.lead_unit else "")
        out.append({"id": q.id, "question": q.question.replace("|", "/"), "gold": gold, "got": got})
    return out


def eval_service(settings: Settings, index: PlanIndex, retriever: Retriever = Retriever.HYBRID,
                 llm: bool = False) -> AnsweringService:  # fmt: skip
    """The answering service as the server builds it, without its caches (each question's latency is its own
    work: no cached answer, reply or query vector) and with the given retriever."""
    config = service_config(settings)
    config = replace(
        config,
        answer_cache_size=0,
        query_vector_cache_size=0,
        answer=replace(config.answer, retrieval=replace(config.answer.retrieval, retriever=retriever)),
    )
    return build_service(settings, index, config=config, llm=llm)


def planqa_system(settings: Settings, index: PlanIndex, retriever: Retriever = Retriever.HYBRID) -> PlanQASystem:
    name = "planqa" if retriever is Retriever.HYBRID else f"planqa-{retriever.value}"
    return PlanQASystem(eval_service(settings, index, retriever), name=name)


def build_systems(args: argparse.Namespace, settings: Settings) -> list[System]:
    if args.url:
        return [HttpSystem(args.url, name="planqa")]
    index = load_index(settings)
    retriever = Retriever(args.retriever)
    if getattr(args, "llm", False):  # the LLM run first, the extractive one last (the report's main system)
        from eval.llm_report import NAME

        return [PlanQASystem(eval_service(settings, index, retriever, llm=True), NAME),
                planqa_system(settings, index, retriever)]  # fmt: skip
    if not args.compare:
        return [planqa_system(settings, index, retriever)]
    corpus = read_document(settings.corpus).text
    return [
        LangChainBaseline(corpus, index.embeddings),
        RetrieverBaseline(index, Retriever.BM25),
        RetrieverBaseline(index, Retriever.DENSE),
        planqa_system(settings, index, Retriever.BM25),
        planqa_system(settings, index, Retriever.DENSE),
        planqa_system(settings, index, Retriever.HYBRID),
    ]


def main(args: argparse.Namespace, settings: Settings) -> int:
    args.split = args.split or "test"
    questions = load_gold(args.gold, args.split)
    if getattr(args, "limit", None):  # spread over the split, so every category keeps a share
        questions = questions[:: max(1, len(questions) // args.limit)][: args.limit]
    systems = build_systems(args, settings)
    results, raw = evaluate(systems, questions)
    main_name = systems[-1].name
    outcomes, predictions = raw[main_name]
    mode = f"HTTP {args.url}" if args.url else "in-process"
    gold_set = "" if args.gold.resolve() == GOLD.resolve() else f"{args.gold.stem}-"  # users.jsonl → eval-users-dev
    stem = f"eval-{gold_set}{args.split}" + ("" if args.compare or args.retriever == "hybrid" else f"-{args.retriever}")
    stem += "-http" if args.url else ""
    stem += "-llm" if getattr(args, "llm", False) else ""
    command = (
        "planqa eval --split "
        + args.split
        + (f" --gold {args.gold}" if gold_set else "")
        + (" --compare" if args.compare else "")
        + (f" --retriever {args.retriever}" if args.retriever != "hybrid" else "")
        + (f" --url {args.url}" if args.url else "")
        + (" --llm" if getattr(args, "llm", False) else "")
        + (f" --limit {args.limit}" if getattr(args, "limit", None) else "")
    )
    meta = {
        **report.machine(),
        "split": args.split,
        "questions": len(questions),
        "mode": mode,
        "command": command,
    }
    if getattr(args, "llm", False):
        from eval.llm_report import summary

        meta["llm"] = summary(systems[0], settings.llm_budget_web_s)  # type: ignore[arg-type]
    fails = failures(questions, outcomes, predictions)
    paths = report.write(stem, meta, results, fails, [outcome_dict(o) for o in outcomes], args.out)

    print(f"{len(questions)} questions ({args.split}), {mode}")
    print(
        f"{'system':<14}{'acc':>7}{'hit@1':>7}{'hit@3':>7}{'MRR':>7}{'shown':>7}{'units':>7}{'lead':>7}{'refP':>7}{'refR':>7}{'p50ms':>8}{'p95ms':>8}"
    )
    for name, r in results.items():
        o = r["overall"]
        keys = ("accuracy", "hit@1", "hit@3", "mrr", "shown@1", "unit_exact", "lead_acc", "refusal_p", "refusal_r")
        cells = [o[k] for k in keys]
        print(
            f"{name:<14}" + "".join(f"{report._fmt(c):>7}" for c in cells) + f"{o['p50_ms']:>8.1f}{o['p95_ms']:>8.1f}"
        )
    names = list(results)
    print(f"\nanswer accuracy per category (hit@1, shown@1 of {main_name} in brackets)")
    print(f"  {'category':<16}{'n':>4}" + "".join(f"{n:>14}" for n in names))
    for cat, m in results[main_name]["categories"].items():
        row = "".join(f"{report._fmt(results[n]['categories'][cat]['accuracy']):>14}" for n in names)
        print(f"  {cat:<16}{m['n']:>4}{row}  ({report._fmt(m['hit@1'])}, {report._fmt(m['shown@1'])})")
    for line in report.verdict(results):
        print(line)
    if "llm" in meta:
        from eval.llm_report import markdown as llm_lines

        print("\n" + "\n".join(llm_lines(meta["llm"])[2:]))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    from eval.cli import parser

    args = parser("eval").parse_args()
    if args.plan:
        from eval.plans import main as plans_main

        sys.exit(plans_main(args, Settings()))
    sys.exit(main(args, Settings()))
