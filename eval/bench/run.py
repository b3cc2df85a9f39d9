"""Benchmarks of PlanQA next to the LangChain baseline. Figures are printed and written, never asserted.

- index build: parse + embed + persist the corpus (PlanQA) / split + embed + FAISS (LangChain);
- cold start: process start to the first 200 from ``/health`` (PlanQA with a built index; the baseline embeds
  its chunks at start-up, as the recipe does);
- in-process latency of one question, over the gold questions (p50/p95);
- HTTP: a real uvicorn on loopback, ``POST /ask`` from N concurrent clients (httpx, asyncio), bounded by a
  request count and a time limit; throughput, p50/p95/p99, errors;
- peak RSS (VmHWM) of the server process(es).

The load generator runs on the same machine as the server and takes part of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval import report
from eval.gold import load_gold

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"p50_ms": 30.0, "cold_start_s": 3.0, "throughput_rps": 200.0}


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.array(ms) if ms else np.zeros(1)
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def in_process(ask, questions: list[str], passes: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    ask("谁负责近视防控?")  # first call loads dictionaries
    times, cpu = [], []
    for _ in range(passes):
        for q in questions:
            started, started_cpu = time.perf_counter(), time.process_time()
            ask(q)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
    # CPU time is what one question costs; wall time adds waiting for a core on a busy machine.
    return {"questions": len(times), **percentiles(times), "cpu_p50_ms": percentiles(cpu)["p50_ms"]}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], timeout: float = 120.0) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start a server on a free loopback port; return it, its URL and the seconds until /health said 200."""
    port = _free_port()
    full_env = {
        **os.environ,
        **env,
        "PLANQA_HOST": "127.0.0.1",
        "PLANQA_PORT": str(port),
        "PLANQA_LOG_LEVEL": "warning",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [c.replace("{port}", str(port)) for c in cmd],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return proc, url, time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    stop(proc)
    raise RuntimeError(f"server did not answer /health within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for c in children:
        pids += _tree(int(c))
    return pids


def peak_rss_mb(pid: int) -> float | None:
    """Sum of VmHWM over the process and its children (uvicorn workers), in MiB; None off Linux."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1) if total else None


async def _load(
    url: str, questions: list[str], concurrency: int, max_requests: int, max_seconds: float, label: str
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < max_requests and time.perf_counter() < deadline:
                q = questions[issued % len(questions)]
                issued += 1
                t = time.perf_counter()
                try:
                    r = await client.post("/ask", json={"question": q})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "label": label,
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        **percentiles(latencies),
    }


def http_bench(cmd: list[str], env: dict[str, str], questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    proc, url, cold = start(cmd, env)
    try:
        # First each question once (PlanQA's answer cache is cold: every request does the work), then the
        # questions again and again (repeated questions come from the cache, as a FAQ's traffic would).
        first = int(args.concurrency.split(",")[0])
        levels = [asyncio.run(_load(url, questions, first, len(questions), args.duration, "each question once"))]
        levels += [
            asyncio.run(_load(url, questions, c, args.requests, args.duration, "repeated questions"))
            for c in (int(x) for x in args.concurrency.split(","))
        ]
        rss = peak_rss_mb(proc.pid)
    finally:
        stop(proc)
    return {"cold_start_s": round(cold, 2), "load": levels, "peak_rss_mb": rss}


def main(args: argparse.Namespace, settings: Any) -> int:
    from eval.run import eval_service
    from eval.systems import LangChainBaseline
    from index.embeddings import load_embeddings
    from index.readers import read_document
    from index.store import build_index, corpus_title
    from rag.service import Channel

    corpus = read_document(settings.corpus).text
    questions = [q.question for q in load_gold()]
    results: dict[str, Any] = {"planqa": {}, "langchain": {}}

    t = time.perf_counter()
    embeddings = load_embeddings(settings.embedding_model)
    results["model_load_s"] = round(time.perf_counter() - t, 2)
    with tempfile.TemporaryDirectory(prefix="planqa-bench-") as tmp:
        t = time.perf_counter()
        index = build_index(corpus, corpus_title(settings.corpus), Path(tmp), embeddings)
        results["planqa"]["index_build_s"] = round(time.perf_counter() - t, 2)
        results["planqa"]["chunks"] = len(index.chunks)
        print(
            f"PlanQA index build: {results['planqa']['index_build_s']} s ({len(index.chunks)} sentences)",
            flush=True,
        )
        service = eval_service(settings, index)  # as the server answers, without the answer cache
        results["planqa"]["in_process"] = in_process(
            lambda q: service.ask(q, channel=Channel.EVAL), questions, args.passes
        )
        print(f"PlanQA in-process: {results['planqa']['in_process']}", flush=True)
        cmd = [sys.executable, "-m", "api.cli", "serve", "--workers", str(args.workers)]
        env = {"PLANQA_INDEX_DIR": tmp, "PLANQA_REBUILD_INDEX": "false", "PLANQA_RATE_LIMIT_PER_IP": "0"}
        results["planqa"]["workers"] = args.workers
        results["planqa"].update(http_bench(cmd, env, questions, args))
        print(
            f"PlanQA HTTP: {results['planqa']['load']}, cold start {results['planqa']['cold_start_s']} s, "
            f"peak RSS {results['planqa']['peak_rss_mb']} MiB",
            flush=True,
        )

    if not args.no_baseline:
        t = time.perf_counter()
        lc = LangChainBaseline(corpus, embeddings)
        results["langchain"]["index_build_s"] = round(time.perf_counter() - t, 2)
        results["langchain"]["chunks"] = len(lc.docs)
        results["langchain"]["in_process"] = in_process(lc.ask, questions, args.passes)
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "eval.bench.baseline_app:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
        ]
        results["langchain"]["workers"] = 1
        results["langchain"].update(http_bench(cmd, {}, questions, args))
        print(f"LangChain: {results['langchain']}", flush=True)

    meta = {
        **report.machine(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "command": "planqa bench " + " ".join(sys.argv[1:] if sys.argv[0].endswith("bench") else []),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps({"meta": meta, "targets": TARGETS, **results}, indent=1) + "\n")
    md = markdown(meta, results, args)
    (args.out / "bench.md").write_text(md, encoding="utf-8")
    print("\n" + md)
    print(f"wrote {args.out / 'bench.md'}, {args.out / 'bench.json'}")
    return 0


def _row(label: str, a: Any, b: Any, target: str = "") -> str:
    return f"| {label} | {a if a is not None else '—'} | {b if b is not None else '—'} | {target} |"


def markdown(meta: dict[str, Any], r: dict[str, Any], args: argparse.Namespace) -> str:
    p, lc = r["planqa"], r.get("langchain") or {}
    out = [
        "# PlanQA benchmark",
        "",
        f"Run {meta['date']} on {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, commit "
        f"{meta['commit'] or '?'}; load average at the end {meta['load_average']:.1f}. PlanQA served by "
        f"{p.get('workers', 1)} uvicorn worker(s); the load generator shares the machine. "
        f"Model load {r['model_load_s']} s. Regenerate: `planqa bench`.",
        "",
        "| figure | PlanQA | LangChain baseline | target |",
        "|---|---:|---:|---|",
        _row("index build (s)", p.get("index_build_s"), lc.get("index_build_s")),
        _row("chunks", p.get("chunks"), lc.get("chunks")),
        _row("cold start to /health (s)", p.get("cold_start_s"), lc.get("cold_start_s"), "< 3 s"),
        _row(
            "in-process p50 (ms)",
            p["in_process"]["p50_ms"],
            (lc.get("in_process") or {}).get("p50_ms"),
            "< 30 ms",
        ),
        _row(
            "in-process CPU time p50 (ms)",
            p["in_process"]["cpu_p50_ms"],
            (lc.get("in_process") or {}).get("cpu_p50_ms"),
        ),
        _row("in-process p95 (ms)", p["in_process"]["p95_ms"], (lc.get("in_process") or {}).get("p95_ms")),
        _row("peak RSS of the server (MiB)", p.get("peak_rss_mb"), lc.get("peak_rss_mb")),
    ]
    other_levels = lc.get("load") or []
    for i, level in enumerate(p.get("load", [])):
        other = other_levels[i] if i < len(other_levels) else {}
        name = f"HTTP {level['concurrency']} clients, {level['label']}"
        out += [
            _row(
                f"{name}: requests / errors",
                f"{level['requests']} / {level['errors']}",
                f"{other.get('requests')} / {other.get('errors')}" if other else None,
                "0 errors",
            ),
            _row(f"{name}: throughput (req/s)", level["throughput_rps"], other.get("throughput_rps"), "> 200"),
            _row(
                f"{name}: p50 / p95 / p99 (ms)",
                f"{level['p50_ms']} / {level['p95_ms']} / {level['p99_ms']}",
                f"{other.get('p50_ms')} / {other.get('p95_ms')} / {other.get('p99_ms')}" if other else None,
            ),
        ]
    out += [
        "",
        f"Load: the {len(load_gold())} gold questions (lookups answered from the parsed plan, and questions "
        'that need an embedding). "each question once": one pass, PlanQA\'s answer cache cold. "repeated '
        f'questions": at most {args.requests} requests or {args.duration:.0f} s cycling through them, so PlanQA '
        "answers most from its cache (the baseline has none). In-process figures are without the cache.",
        "",
    ]
    return "\n".join(out)
