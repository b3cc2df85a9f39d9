"""``planqa eval`` and ``planqa bench``: registered with the CLI through the ``planqa.commands`` entry point.

Only argparse here: the heavy imports (FAISS, the model) happen when a command runs, not when ``planqa`` starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).parent
REPORTS = EVAL_DIR / "reports"


def register_commands(subparsers: Any) -> None:
    """The ``planqa.commands`` hook: add ``eval`` and ``bench`` to the ``planqa`` command's sub-parsers."""
    p = subparsers.add_parser("eval", help="score answers on the gold questions (eval/data), write eval/reports")
    add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)
    p = subparsers.add_parser(
        "bench", help="benchmark: throughput (wrk), latency, cold start, memory; vs LangChain and bare FastAPI"
    )
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--split", choices=["dev", "test", "all"], default=None, help="which questions (default: test; all with --plan)"
    )
    p.add_argument(
        "--plan",
        metavar="ID",
        help="score a fixture plan of eval/data/plans (or 'all'): index it in a temp folder, ask its gold questions",
    )
    p.add_argument(
        "--plan-questions",
        choices=["gold", "val"],
        default="gold",
        help="with --plan: each plan's gold questions (<id>.gold.jsonl) or the blind ones (<id>.val.jsonl)",
    )
    p.add_argument(
        "--library",
        action="store_true",
        help="serve Pingxiang and the fixture plans together: routing, each plan together vs alone, year over year",
    )
    p.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--url", help="evaluate a running server (POST URL/ask) instead of in-process")
    p.add_argument("--compare", action="store_true", help="also score the baselines, side by side")
    p.add_argument("--gold", type=Path, default=EVAL_DIR / "data" / "gold.jsonl", help="gold questions (JSON lines)")
    p.add_argument("--out", type=Path, default=REPORTS, help="report folder (default: eval/reports)")
    p.add_argument(
        "--llm",
        action="store_true",
        help="also run with LLM generation (PLANQA_LLM_*): accuracy, rejection rate, latency side by side",
    )
    p.add_argument("--limit", type=int, default=None, help="only N questions, spread evenly over the split")


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", default="1,4,16,64", help="wrk connections swept (default 1,4,16,64)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    p.add_argument("--endurance", type=float, default=60.0, help="seconds at 64 connections (default 60; 0: skip)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers of the multi-worker run (default 2)")
    p.add_argument("--profile", action="store_true", help="py-spy's top frames while PlanQA serves (needs py-spy)")
    p.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    p.add_argument(
        "--library",
        action="store_true",
        help="instead: a synthetic library of many plans in each vector store (build, size, memory, latency)",
    )
    p.add_argument("--plans", type=int, default=1000, help="--library: how many synthetic plans (default 1000)")
    p.add_argument("--stores", default="faiss,milvus", help="--library: the vector stores compared")
    p.add_argument("--out", type=Path, default=REPORTS, help="report folder (default: eval/reports)")


def cmd_eval(args: argparse.Namespace, settings: Any) -> int:
    if args.library:
        from eval.library import main as library_main

        return library_main(args, settings)
    if args.plan:
        from eval.plans import main as plans_main

        return plans_main(args, settings)
    from eval.run import main

    return main(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Any) -> int:
    if args.library:
        from eval.bench.library import main as library_main

        return library_main(args, settings)
    from eval.bench.run import main

    return main(args, settings)


def parser(command: str) -> argparse.ArgumentParser:
    """A stand-alone parser, for ``python -m eval.run`` and ``python -m eval.bench``."""
    p = argparse.ArgumentParser(prog=f"planqa {command}")
    (add_eval_arguments if command == "eval" else add_bench_arguments)(p)
    return p
