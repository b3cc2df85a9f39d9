"""``planqa bench``: PlanQA's speed next to the LangChain baseline and a bare FastAPI app, measured in one run.

- index build; in-process latency over the gold questions, without any cache (p50, p95, CPU time);
- cold start: process start to the first 200 from ``/ready``, three times (bytecode compiled first, as an
  installed server has it); the LangChain baseline embeds its chunks at start-up, as its recipe does;
- HTTP with ``wrk`` against real servers on loopback (uvicorn, uvloop, httptools): the same question again
  and again; questions the server has not seen (each once); a sweep of concurrency; ``GET /health``; a long
  run at 64 connections; one run with a Python client for comparison. For each: throughput, p50/p99,
  errors, and the server's CPU milliseconds per request;
- the HTTP limit: a bare FastAPI app (no work at all) under the same load, and the ratios to it;
- peak RSS per worker; ``--profile``: py-spy's top frames while PlanQA serves repeated and unseen questions.

Figures are printed and written (``eval/reports/bench.md``, ``.json``, ``.png``), never asserted: on a shared
machine they move with its load, which the report records. Ratios taken in the same run move much less.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval import report
from eval.bench import summary
from eval.bench.load import Load, have_wrk, python_client, question_bodies, wait_until_idle, wrk
from eval.bench.servers import ROOT, Server, planqa_command, start, uvicorn_command
from eval.bench.summary import CACHED, ENDURANCE, SAME, UNSEEN
from eval.gold import load_gold

DATA = Path(__file__).resolve().parents[1] / "data"

REPEATED = "谁负责近视防控?"  # the "repeated question" (SAME), again and again
WARM_UP = "benchmark warm-up"
TARGETS = {
    "repeated_rps": 2500.0,  # one worker, 16 connections
    "repeated_share_of_bare": 0.65,
    "repeated_p99_ms": 20.0,
    "unseen_rps_2_workers": 120.0,
    "in_process_p50_ms": 15.0,
    "times_langchain": 5.0,
    "endurance_p99_ms": 250.0,  # 64 connections, repeated questions
    "cold_start_s": 1.5,
    "rss_mib_per_worker": 250.0,
}


def unseen_questions() -> list[str]:
    """Every question we have, each once: the gold questions, the users' questions, and those written for other
    plans (asked of this plan they are mostly refused — still a question to analyse, embed and answer)."""
    questions = [q.question for q in load_gold()] + [q.question for q in load_gold(DATA / "users.jsonl")]
    for path in sorted((DATA / "plans").glob("*.gold.jsonl")):
        questions += [q.question for q in load_gold(path)]
    return list(dict.fromkeys(questions))


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.array(ms) if ms else np.zeros(1)
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def in_process(ask: Any, questions: list[str]) -> dict[str, float]:
    ask(REPEATED)  # the first call loads dictionaries
    times, cpu = [], []
    for q in questions:
        started, started_cpu = time.perf_counter(), time.process_time()
        ask(q)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    # CPU time is what one question costs; wall time adds waiting for a core on a busy machine.
    return {"questions": len(times), **percentiles(times), "cpu_p50_ms": percentiles(cpu)["p50_ms"]}


def _ask(scenario: str, bodies: list[bytes], **run: Any) -> dict[str, Any]:
    return {"scenario": scenario, "path": "/ask", "bodies": bodies, **run}


def _health(duration: float) -> dict[str, Any]:
    return {"scenario": "health", "path": "/health", "method": "GET", "duration": duration}


def _say(what: str, value: Any) -> None:
    print(f"{what}: {value}", flush=True)


def _loads(server: Server, system: str, runs: list[dict[str, Any]], args: argparse.Namespace) -> list[Load]:
    out = []
    for run in runs:
        wait_until_idle(server.pids())
        if run.pop("python", False):
            result = python_client(server.url, system=system, pids=server.pids(), workers=server.workers, **run)
        else:
            result = wrk(server.url, system=system, pids=server.pids(), workers=server.workers, **run)
        server.sample_memory()
        _say(f"{system} ({server.workers} worker(s)) {result.scenario}, {result.connections} connections", result)
        out.append(result)
    return out


def main(args: argparse.Namespace, settings: Any) -> int:
    from eval.run import eval_service
    from eval.systems import LangChainBaseline
    from index.embeddings import load_embeddings
    from index.readers import read_document
    from index.store import build_index, corpus_title
    from rag.service import Channel

    if not have_wrk():
        print("planqa bench: wrk is not installed: run `bash scripts/system-deps.sh` as root (apt-get install wrk)")
        return 1
    began = time.perf_counter()
    meta: dict[str, Any] = {**report.machine(), "load_average_start": os.getloadavg()[0]}
    corpus = read_document(settings.corpus).text
    gold = [q.question for q in load_gold()]
    unseen = unseen_questions()
    repeated = question_bodies([REPEATED])
    levels = [int(c) for c in args.concurrency.split(",")]
    results: dict[str, Any] = {"planqa": {}, "langchain": {}, "bare": {}, "loads": [], "profiles": {}}
    loads: list[Load] = results["loads"]
    d = args.duration

    embeddings = load_embeddings(settings.embedding_model)
    # An installed server has its bytecode compiled (the first start writes it); so does the measured one.
    for package in ("api", "config", "eval", "index", "rag"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="planqa-bench-") as tmp:
        t = time.perf_counter()
        index = build_index(corpus, corpus_title(settings.corpus), Path(tmp), embeddings)
        results["planqa"]["index_build_s"] = round(time.perf_counter() - t, 2)
        results["planqa"]["chunks"] = len(index.chunks)
        service = eval_service(settings, index)  # no caches: each question's own work
        results["planqa"]["in_process"] = in_process(lambda q: service.ask(q, channel=Channel.EVAL), gold)
        _say("PlanQA in-process", results["planqa"]["in_process"])
        results["planqa"]["unseen_embedded_share"] = _embedded_share(settings, index, unseen)

        env = {
            "PLANQA_INDEX_DIR": tmp,
            "PLANQA_REBUILD_INDEX": "false",
            "PLANQA_RATE_LIMIT_PER_IP": str(10**9),  # the limiter runs (its cost counts) but never refuses
            "PLANQA_LOG_LEVEL": "info",  # one access line per request, as in production (to a file)
            "PLANQA_STATE_PATH": str(Path(tmp) / "state.sqlite3"),  # several workers share it (not the checkout's)
        }
        starts = []
        for _ in range(3):
            server = start(planqa_command(1), env)
            starts.append(server.start_s)
            server.stop()
        results["planqa"]["cold_start_s"] = round(statistics.median(starts), 2)
        results["planqa"]["cold_starts_s"] = [round(s, 2) for s in starts]
        _say("PlanQA cold start to /ready (s)", results["planqa"]["cold_starts_s"])

        # The HTTP limit first, then PlanQA: close in time, under the same load of the machine.
        bare = start(uvicorn_command("eval.bench.bare_app:app_factory"), {}, ready="/health")
        try:
            runs = [_health(d), *[_ask(SAME, repeated, connections=c, duration=d) for c in levels]]
            loads += _loads(bare, "bare-fastapi", runs, args)
            results["bare"]["peak_rss_mib"] = bare.peak_rss_mib()
        finally:
            bare.stop()

        unseen_bodies = question_bodies(unseen)
        one = start(planqa_command(1), env)
        try:  # a fresh server: the unseen questions first, while nothing is cached
            warm_up(one)
            profiled = [(UNSEEN, _ask(UNSEEN, unseen_bodies, once=True)), (SAME, _ask(SAME, repeated, duration=d))]
            for scenario, run in profiled:
                wait_until_idle(one.pids())  # before the profile starts: it must not sample the last run's tail
                profile = _profile(args, one, d)
                loads += _loads(one, "planqa", [run], args)
                results["profiles"][scenario] = profile.top() if profile else None
            runs = [
                _health(d),
                *[_ask(SAME, repeated, connections=c, duration=d) for c in levels if c != 16],
                *[_ask(CACHED, unseen_bodies, connections=c, duration=d) for c in levels],
                _ask(CACHED, unseen_bodies, duration=d, python=True),
            ]
            if args.endurance:
                runs.append(_ask(ENDURANCE, unseen_bodies, connections=64, duration=args.endurance))
            loads += _loads(one, "planqa", runs, args)
            results["planqa"]["peak_rss_mib"] = one.peak_rss_mib()
            results["planqa"]["anon_mib"] = one.anon_mib()
        finally:
            one.stop()

        several = start(planqa_command(args.workers), env, workers=args.workers)
        try:
            warm_up(several)
            runs = [_ask(UNSEEN, unseen_bodies, once=True), _ask(SAME, repeated, duration=d)]
            loads += _loads(several, "planqa", runs, args)
            results["planqa"]["peak_rss_mib_workers"] = several.peak_rss_mib()
            results["planqa"]["cold_start_s_workers"] = round(several.start_s, 2)
            results["planqa"]["workers"] = args.workers
        finally:
            several.stop()

    if not args.no_baseline:
        t = time.perf_counter()
        lc = LangChainBaseline(corpus, embeddings)
        results["langchain"]["index_build_s"] = round(time.perf_counter() - t, 2)
        results["langchain"]["chunks"] = len(lc.docs)
        results["langchain"]["in_process"] = in_process(lc.ask, gold)
        _say("LangChain in-process", results["langchain"]["in_process"])
        server = start(uvicorn_command("eval.bench.baseline_app:app_factory"), {}, ready="/health")
        results["langchain"]["cold_start_s"] = round(server.start_s, 2)
        try:
            runs = [
                _ask(UNSEEN, question_bodies(unseen), once=True),
                *[_ask(SAME, repeated, connections=c, duration=d) for c in levels],
            ]
            loads += _loads(server, "langchain", runs, args)
            results["langchain"]["peak_rss_mib"] = server.peak_rss_mib()
        finally:
            server.stop()

    meta["load_average_end"] = os.getloadavg()[0]
    meta["seconds"] = round(time.perf_counter() - began)
    meta["unseen_questions"] = len(unseen)
    meta["command"] = "planqa bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:])
    results["loads"] = [x.row() for x in loads]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps({"meta": meta, "targets": TARGETS, **results}, indent=1) + "\n")
    summary.chart(results["loads"], args.out / "bench.png")
    md = summary.markdown(meta, results, TARGETS)
    (args.out / "bench.md").write_text(md, encoding="utf-8")
    print("\n" + md)
    print(f"wrote {args.out / 'bench.md'}, {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    return 0


def warm_up(server: Server) -> None:
    """Before the first run: a question that needs the word dictionary, from enough connections to reach every
    worker, so the runs measure a server that has finished starting (it loads the dictionary in the background
    after /ready) — the question shares no topic with the unseen ones."""
    wrk(server.url, system="warm-up", scenario="warm-up", path="/ask", bodies=question_bodies([WARM_UP]),
        connections=16, duration=1.0)  # fmt: skip
    wait_until_idle(server.pids())


def _profile(args: argparse.Namespace, server: Server, seconds: float) -> Any:
    if not args.profile:
        return None
    from eval.bench.profile import Recording

    return Recording(server.worker_pids()[0], seconds)


def _embedded_share(settings: Any, index: Any, questions: list[str]) -> float:
    """The share of these questions whose answer needs a query vector (the rest are lookups by number or
    unit, answered from the parsed plan), measured by asking a fresh service."""
    from eval.run import eval_service
    from index.errors import InvalidQuestionError
    from index.waiting import WouldWait, no_waiting
    from rag.service import Channel

    service = eval_service(settings, index)
    service.ask(REPEATED, channel=Channel.EVAL)  # the word dictionary loaded: only vectors can be missing
    needs = 0
    for q in questions:
        try:
            with no_waiting():
                service.ask(q, channel=Channel.EVAL)
        except WouldWait:
            needs += 1
        except InvalidQuestionError:
            pass
    return round(needs / len(questions), 3)
