"""Reports of an evaluation run: Markdown for people, JSON for tools, a PNG chart of hit@1 per category."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

REPORTS = Path(__file__).parent / "reports"
PLANQA = "planqa"
_COLUMNS = [
    ("accuracy", "answer acc"),
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("mrr", "MRR"),
    ("shown@1", "shown@1"),
    ("unit_exact", "units exact"),
    ("lead_acc", "lead unit"),
    ("substring", "substrings"),
    ("reverse_p", "reverse P"),
    ("reverse_r", "reverse R"),
    ("cite_p", "citation P"),
    ("refusal_p", "refusal P"),
    ("refusal_r", "refusal R"),
    ("answered_unanswerable", "answered unanswerable"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
    ("max_ms", "max ms"),
]


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPORTS.parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "commit": commit,
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if v <= 1.0 else f"{v:.1f}"
    return str(v)


def verdict(results: dict[str, Any]) -> list[str]:
    """Categories where PlanQA's answer accuracy does not beat a baseline's, said plainly; then where one of
    PlanQA's single-retriever ablations (``planqa-bm25``, ``planqa-dense``) does better than hybrid."""
    if PLANQA not in results or len(results) < 2:
        return []
    lines = []
    ours = results[PLANQA]["categories"]
    for name, r in results.items():
        if name == PLANQA:
            continue
        ablation = name.startswith(PLANQA)
        for cat, m in r["categories"].items():
            a, b = ours[cat]["accuracy"], m["accuracy"]
            if a is None or b is None or a > b or (ablation and a == b):
                continue
            if ablation:
                lines.append(f"- `{cat}`: the ablation {name} scores higher than hybrid PlanQA ({b:.3f} vs {a:.3f}).")
            else:
                word = "only ties" if a == b else "LOSES to"
                lines.append(f"- `{cat}`: PlanQA {word} the {name} baseline on answer accuracy ({a:.3f} vs {b:.3f}).")
    return lines


def markdown(meta: dict[str, Any], results: dict[str, Any], failures: list[dict[str, Any]]) -> str:
    names = list(results)
    out = [
        f"# PlanQA evaluation — split `{meta['split']}` ({meta['questions']} questions)",
        "",
        f"Run {meta['date']} on {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, "
        f"commit {meta['commit'] or '?'}; mode: {meta['mode']}. Regenerate: `{meta['command']}`.",
        "",
        "## Overall",
        "",
        "| system | " + " | ".join(label for _, label in _COLUMNS) + " |",
        "|---|" + "---:|" * len(_COLUMNS),
    ]
    for name in names:
        o = results[name]["overall"]
        out.append(f"| {name} | " + " | ".join(_fmt(o[k]) for k, _ in _COLUMNS) + " |")
    cats = list(next(iter(results.values()))["categories"])
    tables = (
        ("accuracy", "Answer accuracy per category"),
        ("hit@1", "hit@1 per category"),
        ("shown@1", "shown@1 per category (the right task cited first, or offered first when refused)"),
    )
    for key, title in tables:
        out += [
            "",
            f"## {title}",
            "",
            "| category | n | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names),
        ]
        for c in cats:
            n = results[names[0]]["categories"][c]["n"]
            out.append(f"| {c} | {n} | " + " | ".join(_fmt(results[s]["categories"][c][key]) for s in names) + " |")
    v = verdict(results)
    if len(results) > 1:
        out += ["", "## Where PlanQA does not beat a baseline", ""]
        out += v or ["PlanQA's answer accuracy beats every baseline in every category."]
    if meta.get("llm"):  # planqa eval --llm: rejection rate and latency of generation (eval/llm_report.py)
        from eval.llm_report import markdown as llm_markdown

        out += ["", *llm_markdown(meta["llm"])]
    if failures:
        out += [
            "",
            f"## {PLANQA if PLANQA in results else names[0]}: questions answered wrongly ({len(failures)})",
            "",
            "| id | question | gold | got |",
            "|---|---|---|---|",
        ]
        for f in failures:
            out.append(f"| {f['id']} | {f['question']} | {f['gold']} | {f['got']} |")
    out += [
        "",
        "Metrics: see `eval/score.py`. Retrieval metrics use the cited tasks, best first (up to 3); "
        "baselines never refuse.",
        "",
    ]
    return "\n".join(out)


def chart(results: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    cats = [c for c, m in next(iter(results.values()))["categories"].items() if m["hit@1"] is not None]
    fig, ax = plt.subplots(figsize=(max(9, 1.1 * len(cats) + 3.5), 4.2), dpi=80)
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [results[name]["categories"][c]["hit@1"] or 0.0 for c in cats]
        ax.bar([x + i * width for x in range(len(cats))], values, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(cats))], cats, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("hit@1")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(
    stem: str,
    meta: dict[str, Any],
    results: dict[str, Any],
    failures: list[dict[str, Any]],
    outcomes: list[dict[str, Any]],
    out_dir: Path = REPORTS,
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js, png = out_dir / f"{stem}.md", out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    md.write_text(markdown(meta, results, failures), encoding="utf-8")
    payload = {"meta": meta, "results": results, "verdict": verdict(results), "outcomes": outcomes}
    js.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    chart(results, png, f"hit@1 per category — split {meta['split']}")
    return [md, js, png]
