"""The benchmark's report: each target beside its figure and its limit, every run, the ratios, a chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAME, UNSEEN, CACHED, ENDURANCE = (
    "repeated question",
    "unseen questions",
    "repeated questions (cached)",
    "endurance, repeated questions",
)


def find(
    loads: list[dict[str, Any]], system: str, scenario: str, connections: int = 16, workers: int = 1
) -> dict[str, Any] | None:
    """The wrk run of ``system`` in ``scenario`` (an unseen-questions run at any number of connections)."""
    for x in loads:
        if (x["system"], x["scenario"], x["workers"], x["client"]) == (system, scenario, workers, "wrk") and (
            x["connections"] == connections or scenario == UNSEEN
        ):
            return x
    return None


def _n(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def markdown(meta: dict[str, Any], r: dict[str, Any], targets: dict[str, float]) -> str:
    loads = r["loads"]
    p, lc, bare = r["planqa"], r.get("langchain") or {}, r.get("bare") or {}
    workers = p.get("workers", 2)
    same = find(loads, "planqa", SAME) or {}
    bare_ask = find(loads, "bare-fastapi", SAME) or {}
    bare_health = find(loads, "bare-fastapi", "health") or {}
    health = find(loads, "planqa", "health") or {}
    unseen_1 = find(loads, "planqa", UNSEEN) or {}
    unseen_n = find(loads, "planqa", UNSEEN, workers=workers) or {}
    endurance = find(loads, "planqa", ENDURANCE, connections=64) or {}
    lc_same = find(loads, "langchain", SAME) or {}
    lc_unseen = find(loads, "langchain", UNSEEN) or {}
    share = _ratio(same.get("throughput_rps"), bare_ask.get("throughput_rps"))
    in_p50 = p["in_process"]["p50_ms"]
    lc_in = (lc.get("in_process") or {}).get("p50_ms")
    embedded_cpu = unseen_1.get("cpu_ms_per_request")
    t = targets

    def ok(value: float | None, limit: float, above: bool = True) -> bool | None:
        if value is None:
            return None
        return value >= limit if above else value <= limit

    rows: list[tuple[str, str, str, str, bool | None]] = []

    def target(what: str, wanted: str, measured: str, reference: str, met: bool | None) -> None:
        rows.append((what, wanted, measured, reference, met))

    target(
        "repeated question, 1 worker, 16 connections",
        f"≥ {t['repeated_rps']:,.0f} req/s",
        f"{_n(same.get('throughput_rps'))} req/s",
        f"bare FastAPI, same load: {_n(bare_ask.get('throughput_rps'))} req/s",
        ok(same.get("throughput_rps"), t["repeated_rps"]),
    )
    target(
        "… share of the bare-FastAPI figure",
        f"≥ {t['repeated_share_of_bare']:.0%}",
        f"{share:.0%}" if share else "—",
        "the HTTP limit: uvicorn and FastAPI doing nothing",
        ok(share, t["repeated_share_of_bare"]),
    )
    target(
        "… p99",
        f"≤ {t['repeated_p99_ms']:.0f} ms",
        f"{_n(same.get('p99_ms'), 2)} ms",
        f"bare FastAPI: {_n(bare_ask.get('p99_ms'), 2)} ms",
        ok(same.get("p99_ms"), t["repeated_p99_ms"], above=False),
    )
    limit = 1000 * workers / embedded_cpu if embedded_cpu else None
    target(
        f"unseen questions, {workers} workers",
        f"≥ {t['unseen_rps_2_workers']:.0f} req/s, 0 errors",
        f"{_n(unseen_n.get('throughput_rps'))} req/s, {_n(unseen_n.get('errors'))} errors",
        f"{_n(embedded_cpu, 2)} ms of server CPU per unseen question (1 worker) ⇒ ≈ {_n(limit, 0)} req/s "
        f"on {workers} idle cores",
        None if not unseen_n else unseen_n["throughput_rps"] >= t["unseen_rps_2_workers"] and not unseen_n["errors"],
    )
    target(
        "in-process p50, no cache",
        f"≤ {t['in_process_p50_ms']:.0f} ms",
        f"{_n(in_p50, 2)} ms",
        f"CPU p50 {_n(p['in_process']['cpu_p50_ms'], 2)} ms; {p.get('unseen_embedded_share', 0):.0%} of the "
        "unseen questions need a query embedding",
        ok(in_p50, t["in_process_p50_ms"], above=False),
    )
    target(
        "64 connections, repeated questions",
        f"0 errors, p99 ≤ {t['endurance_p99_ms']:.0f} ms",
        f"{_n(endurance.get('errors'))} errors in {_n(endurance.get('requests'))}, "
        f"p99 {_n(endurance.get('p99_ms'), 1)} ms over {_n(endurance.get('seconds'))} s",
        "",
        None if not endurance else not endurance["errors"] and endurance["p99_ms"] <= t["endurance_p99_ms"],
    )
    target(
        "cold start to /ready",
        f"≤ {t['cold_start_s']} s",
        f"{_n(p.get('cold_start_s'), 2)} s (median of {', '.join(str(x) for x in p.get('cold_starts_s', []))})",
        f"{workers} workers starting at once: {_n(p.get('cold_start_s_workers'), 2)} s",
        ok(p.get("cold_start_s"), t["cold_start_s"], above=False),
    )
    target(
        "peak RSS per worker",
        f"≤ {t['rss_mib_per_worker']:.0f} MiB",
        f"{_n(p.get('peak_rss_mib'))} MiB",
        f"anonymous {_n(p.get('anon_mib'))} MiB, the rest mapped from the model's and libraries' files; "
        f"{workers} workers: {_n(p.get('peak_rss_mib_workers'))} MiB each at most; "
        f"bare FastAPI {_n(bare.get('peak_rss_mib'))} MiB",
        ok(p.get("peak_rss_mib"), t["rss_mib_per_worker"], above=False),
    )
    out = [
        "# PlanQA benchmark",
        "",
        f"Run {meta['date']} on {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, commit "
        f"{meta['commit'] or '?'}; load average {meta['load_average_start']:.1f} at the start and "
        f"{meta['load_average_end']:.1f} at the end (other jobs on the machine take cores from the server and "
        f"from wrk alike: compare figures within this run). {meta['seconds']} s in all. `{meta['command']}`.",
        "",
        "## Targets",
        "",
        "| target | wanted | measured | limit or reference, same run | |",
        "|---|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} | {_met(e)} |" for a, b, c, d, e in rows],
        "",
        "## PlanQA against the LangChain baseline and a bare FastAPI app (same run)",
        "",
        "| figure | PlanQA | LangChain | PlanQA ÷ LangChain | bare FastAPI | PlanQA ÷ bare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    compare = [
        ("repeated question, 16 connections (req/s)", same.get("throughput_rps"), lc_same.get("throughput_rps"),
         bare_ask.get("throughput_rps"), True),
        ("unseen questions, 1 worker (req/s)", unseen_1.get("throughput_rps"), lc_unseen.get("throughput_rps"),
         None, True),
        (f"unseen questions, {workers} workers vs the baseline's 1 (req/s)", unseen_n.get("throughput_rps"),
         lc_unseen.get("throughput_rps"), None, True),
        ("repeated question p99 (ms)", same.get("p99_ms"), lc_same.get("p99_ms"), bare_ask.get("p99_ms"), False),
        ("unseen questions p99 (ms)", unseen_1.get("p99_ms"), lc_unseen.get("p99_ms"), None, False),
        ("server CPU per repeated question (ms)", same.get("cpu_ms_per_request"), lc_same.get("cpu_ms_per_request"),
         bare_ask.get("cpu_ms_per_request"), False),
        ("server CPU per unseen question (ms)", unseen_1.get("cpu_ms_per_request"),
         lc_unseen.get("cpu_ms_per_request"), None, False),
        ("GET /health (req/s)", health.get("throughput_rps"), None, bare_health.get("throughput_rps"), True),
        ("server CPU per /health (ms)", health.get("cpu_ms_per_request"), None,
         bare_health.get("cpu_ms_per_request"), False),
        ("in-process p50, no cache (ms)", in_p50, lc_in, None, False),
        ("cold start (s)", p.get("cold_start_s"), lc.get("cold_start_s"), None, False),
        ("peak RSS, 1 worker (MiB)", p.get("peak_rss_mib"), lc.get("peak_rss_mib"), bare.get("peak_rss_mib"), False),
    ]  # fmt: skip
    for label, ours, theirs, limit, higher_better in compare:
        vs_lc = _ratio(ours, theirs) if higher_better else _ratio(theirs, ours)
        vs_bare = _ratio(ours, limit)
        out.append(
            f"| {label} | {_n(ours, 2)} | {_n(theirs, 2)} | {_n(vs_lc, 2)}× {'faster' if vs_lc else ''} "
            f"| {_n(limit, 2)} | {_n(vs_bare, 2)} |"
        )
    out += [
        "",
        'PlanQA ÷ LangChain is always "how many times better" (higher throughput, or lower time, CPU or memory). '
        f"Target: every figure ≥ {t['times_langchain']:.0f}×.",
        "",
        "## Every run",
        "",
        "| system | workers | scenario | client | connections | requests | errors | req/s | p50 ms | p99 ms "
        "| server CPU ms / request |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in loads:
        out.append(
            f"| {x['system']} | {x['workers']} | {x['scenario']} | {x['client']} | {x['connections']} "
            f"| {_n(x['requests'])} | {_n(x['errors'])} | {_n(x['throughput_rps'])} | {_n(x['p50_ms'], 2)} "
            f"| {_n(x['p99_ms'], 2)} | {_n(x['cpu_ms_per_request'], 3)} |"
        )
    out += [
        "",
        f"Unseen questions: {meta['unseen_questions']} different questions (the gold questions, the users' questions "
        "and those written for the other fixture plans), each sent once to a server that has not seen them; the run "
        "ends when all but the last few (one per connection) are answered, so none is ever sent twice. Repeated "
        f'question: "谁负责近视防控?" again and again. Repeated questions (cached): the {meta["unseen_questions"]} '
        "questions round and round, after the unseen run. The httpx run is the same load from a Python client, "
        "which needs a core of its own. In-process: the gold questions, with no cache of any kind. PlanQA's "
        "rate limiter runs (with a limit no run reaches) and its access log is written, as in production.",
        "",
    ]
    for scenario, top in (r.get("profiles") or {}).items():
        if not top:
            continue
        out += [f"### py-spy, PlanQA serving {scenario} (share of samples)", ""]
        out += ["| on the stack | % | at the top | % |", "|---|---:|---|---:|"]
        for (a, pa), (b, pb) in zip(top["inclusive"], top["self"], strict=False):
            out.append(f"| `{a}` | {pa} | `{b}` | {pb} |")
        out.append("")
    return "\n".join(out)


def chart(loads: list[dict[str, Any]], path: Path) -> None:
    """Throughput against concurrency, one line per system and scenario swept."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float]]] = {}
    for x in loads:
        if x["client"] != "wrk" or x["scenario"] not in (SAME, CACHED) or x["workers"] != 1:
            continue
        series.setdefault(f"{x['system']}: {x['scenario']}", []).append((x["connections"], x["throughput_rps"]))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, points in sorted(series.items()):
        points.sort()
        ax.plot([c for c, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("requests per second (one worker)")
    ax.set_title("POST /ask throughput against concurrency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
