"""``planqa bench --library``: a synthetic library of many plans in each vector store (index/vectors).

The plans are made from the fixture styles (the six plans of eval/data/plans and the bundled Pingxiang plan):
plan *i* is style *i mod 7* under an issuer of its own (a made-up place name replaces the style's) and a year of
its own, with its own id and meta.json, so the parser, the chunker and the per-plan BM25 see real plan text.

Embedding every sentence with the real model would take hours on two shared cores, so the benchmark embeds each
style's sentences once with the real model (timed: that rate, times the library's sentences, is the figure a
real build would add) and gives each synthetic plan its style's real vectors plus a little noise (then
normalised), so no two plans hold identical vectors. Queries are embedded by the real model. Everything else is
the real path: ``build_index`` per plan into the store, then ``PlanFolder.load_all`` as the server starts.

Each store runs in a process of its own (``--child``), so its memory is its own; milvus-lite's engine runs in a
process of its own too, and its memory is counted with it. Per store: build time, index size on disk, memory
after loading, and p50/p95 of
- a scoped question: the whole answer pipeline (``rag.answer``) on one plan, whose vectors the store searches
  filtered to that plan; and the store's scoped vector search alone;
- an unscoped question: the store's search over every plan (vectors), and keyword search over every plan
  (per-plan BM25 in the process, added up; and, for Milvus, its own BM25 full-text search).

Figures are printed and written to ``eval/reports/library-bench-<plans>.md`` and ``.json``; the machine is shared, so
the load average is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import DEFAULT_CORPUS, ROOT
from eval.bench.run import percentiles
from eval.gold import load_gold
from index.catalog import from_title
from index.chunking import chunk_plan
from index.embeddings import PlanQAEmbeddings, load_embeddings
from index.parse import parse_plan
from index.readers import read_document
from index.store import corpus_title

PLANS = ROOT / "eval" / "data" / "plans"
REPORTS = ROOT / "eval" / "reports"
NOISE = (
    0.02  # per-dimension noise added to a reused vector (unit vectors of 384 dimensions: cosine to its source ~0.93)
)
QUESTIONS_PER_STYLE = 12
REPEATS = 3  # each question asked this many times (after one warm-up round)
MILVUS_LITE_NOTE = (
    "\nmilvus here is milvus-lite 3.2.2, which runs its engine inside the process (Python and numpy: a brute-force "
    "scan per segment, filters evaluated per row, one segment per plan since each build is flushed); a Milvus "
    "server or cluster at `http://host:19530` runs the same collection in its own processes and was not "
    "measured here (none on this machine).\n"
)
# Made-up place names: 32 × 32 two-character names, none a fixture's.
_FIRST = "东西南北金银松柏桃李兰竹梅菊泉溪湖江河山林石云霞星月春秋丰安宁康"
_SECOND = "阳阴川原岭峰洲滨城塘湾岗坪沟坡坝桥庄州池港浦渡岩谷冈台屯堡营埠"


@dataclass(frozen=True)
class Style:
    name: str
    text: str
    title: str
    region: str  # as the title names it: 青山市
    year: int
    sentences: int
    questions: tuple[str, ...]


def styles() -> list[Style]:
    out = []
    for path in [*sorted(PLANS.glob("*.txt")), DEFAULT_CORPUS]:
        text = read_document(path).text
        plan = parse_plan(text, title=corpus_title(path))
        said = from_title(plan.title)
        gold = PLANS / f"{path.stem}.gold.jsonl" if path != DEFAULT_CORPUS else None
        questions = [q.question for q in (load_gold(gold) if gold else load_gold())][:QUESTIONS_PER_STYLE]
        region, year = str(said["region"]), int(said["year"])  # type: ignore[call-overload]
        out.append(Style(path.stem, text, plan.title, region, year, len(chunk_plan(plan)), tuple(questions)))
    return out


def place(i: int) -> str:
    return _FIRST[i % len(_FIRST)] + _SECOND[(i // len(_FIRST)) % len(_SECOND)]


def synthesize(all_styles: list[Style], n: int, folder: Path) -> list[dict[str, Any]]:
    """``n`` plan files (and meta.json) in ``folder``; returns their meta, each with its style."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        s = all_styles[i % len(all_styles)]
        short, suffix = s.region[:-1], s.region[-1]  # 青山 + 市
        name = place(i // len(all_styles) * len(all_styles) + i % len(all_styles))
        year = 2016 + (i // len(all_styles)) % 9
        title = s.title.replace(s.region, name + suffix).replace(f"{s.year}年", f"{year}年", 1)
        issuer = str(from_title(title).get("issuer", name + suffix))
        meta = {"id": f"syn-{i:04d}", "title": title, "issuer": issuer, "region": name + suffix, "year": year}
        (folder / f"syn-{i:04d}.txt").write_text(s.text.replace(short, name), encoding="utf-8")
        (folder / f"syn-{i:04d}.meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        made.append({**meta, "style": s.name})
    return made


class ReusedVectors(PlanQAEmbeddings):
    """The real model's vectors of one style's sentences, handed out in order (``build_index`` embeds a plan's
    chunks in order), each with a little noise; queries go to the real model."""

    def __init__(self, real: PlanQAEmbeddings, vectors: np.ndarray, rng: np.random.Generator) -> None:
        self.real, self.vectors, self.rng, self.cursor = real, vectors, rng, 0
        self.model_id, self.dimension = real.model_id, real.dimension

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if is_query:
            return self.real.encode(texts, is_query=True)
        block = self.vectors[self.cursor : self.cursor + len(texts)]
        if len(block) != len(texts):
            raise ValueError("a synthetic plan has more sentences than its style")
        self.cursor += len(texts)
        noisy = block + self.rng.normal(0, NOISE, block.shape).astype(np.float32)
        return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def rss_mib(pid: int | None = None) -> float:
    """Resident memory of ``pid`` (default: this process) and every process under it, MiB."""
    root = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) / 1024
    return round(total, 1)


def disk_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def timed(calls: list[Any]) -> dict[str, float]:
    for call in calls:  # warm-up: dictionaries, caches of the model, Milvus's segments loaded
        call()
    ms = []
    for _ in range(REPEATS):
        for call in calls:
            started = time.perf_counter()
            call()
            ms.append((time.perf_counter() - started) * 1000)
    return {**percentiles(ms), "n": len(ms)}  # p50, p95, p99


def child(store_name: str, work: Path) -> dict[str, Any]:
    """Build, load and query the library of ``work`` in one store; the figures as a dict."""
    from index.library import PlanFolder
    from index.store import build_index
    from index.vectors import PlanTag, SearchScope, VectorStoreConfig, open_vector_store
    from rag.service import AnsweringService, Channel, ServiceConfig

    real = load_embeddings()
    made = json.loads((work / "plans.json").read_text(encoding="utf-8"))
    vectors = np.load(work / "vectors.npz")
    questions: dict[str, list[str]] = json.loads((work / "questions.json").read_text(encoding="utf-8"))
    index_root = work / f"index-{store_name}"
    config = VectorStoreConfig(real.dimension, uri=str(work / f"milvus-{store_name}" / "vectors.db"))
    base_rss = rss_mib()

    store = open_vector_store(store_name, config)
    folder = PlanFolder(work / "plans", index_root, store=store)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for meta in made:
        text = (work / "plans" / f"{meta['id']}.txt").read_text(encoding="utf-8")
        build_index(
            text, meta["title"], folder.index_dir(meta["id"]), ReusedVectors(real, vectors[meta["style"]], rng),
            store=store, tag=PlanTag(meta["id"], meta["year"], meta["issuer"]),
        )  # fmt: skip
    build_s = time.perf_counter() - started
    if hasattr(store, "close"):
        store.close()

    started = time.perf_counter()
    store = open_vector_store(store_name, config)  # as a server starts: a fresh process's store, every plan loaded
    loaded = {p.meta.id: p for p in PlanFolder(work / "plans", index_root, store=store).load_all(real, rebuild=False)}
    load_s = time.perf_counter() - started
    memory = rss_mib()

    asked = [(meta["id"], q) for meta in made[: len(questions)] for q in questions[meta["style"]]]
    # Answered as the server answers a question scoped to a plan: the plan's answering service (the question's
    # topic embedded), with no answer or vector cache, so each question costs its own work.
    no_cache = ServiceConfig(answer_cache_size=0, query_vector_cache_size=0)
    services = {p: AnsweringService(loaded[p].index, no_cache) for p in dict.fromkeys(p for p, _ in asked)}
    query_vectors = {q: real.encode([q], is_query=True)[0] for _, q in asked}
    results: dict[str, Any] = {
        "store": store_name,
        "plans": len(loaded),
        "sentences": sum(len(p.index.chunks) for p in loaded.values()),
        "build_s": round(build_s, 1),
        "load_s": round(load_s, 1),
        "disk_mib": round(disk_mib(index_root) + disk_mib(work / f"milvus-{store_name}"), 1),
        "rss_mib": memory,
        "rss_mib_before_library": base_rss,
        "scoped_answer": timed([lambda p=p, q=q: services[p].ask(q, channel=Channel.EVAL) for p, q in asked]),
        "scoped_vectors": timed(
            [lambda p=p, q=q: store.search(query_vectors[q], 20, SearchScope(plan=p)) for p, q in asked]
        ),
        "unscoped_vectors": timed([lambda q=q: store.search(query_vectors[q], 20) for _, q in asked[:24]]),
    }

    def every_plans_bm25(q: str) -> list[tuple[float, str, int]]:
        hits: list[tuple[float, str, int]] = []
        for plan_id, p in loaded.items():
            words, _ = p.index.keyword_scores(q)
            top = np.argsort(-words)[:20]
            hits += [(float(words[i]), plan_id, int(i)) for i in top]
        return sorted(hits, reverse=True)[:20]

    results["unscoped_keyword_bm25_per_plan"] = timed([lambda q=q: every_plans_bm25(q) for _, q in asked[:6]])
    if hasattr(store, "keyword_search"):
        results["unscoped_keyword_milvus_bm25"] = timed(
            [lambda q=q: store.keyword_search(q, 20) for _, q in asked[:24]]
        )
    scope = next(iter(loaded))
    results["scoped_only_its_plan"] = all(
        h.plan == scope
        for q in list(query_vectors)[:6]
        for h in store.search(query_vectors[q], 20, SearchScope(plan=scope))
    )
    return results


def main(args: argparse.Namespace, settings: Any = None) -> int:
    all_styles = styles()
    work = Path(tempfile.mkdtemp(prefix="planqa-library-bench-"))
    try:
        made = synthesize(all_styles, args.plans, work / "plans")
        (work / "plans.json").write_text(json.dumps(made, ensure_ascii=False), encoding="utf-8")
        (work / "questions.json").write_text(
            json.dumps({s.name: list(s.questions) for s in all_styles}, ensure_ascii=False), encoding="utf-8"
        )
        real = load_embeddings()
        started = time.perf_counter()
        vectors = {}
        for s in all_styles:
            plan = parse_plan(s.text, title=s.title)
            vectors[s.name] = real.encode([c.text for c in chunk_plan(plan)], is_query=False)
        embed_s = time.perf_counter() - started
        np.savez(work / "vectors.npz", **vectors)  # type: ignore[arg-type]
        embedded = sum(s.sentences for s in all_styles)
        sentences = sum(next(s for s in all_styles if s.name == m["style"]).sentences for m in made)
        report: dict[str, Any] = {
            "plans": args.plans,
            "sentences": sentences,
            "styles": [s.name for s in all_styles],
            "real_embedding": {
                "sentences": embedded,
                "seconds": round(embed_s, 1),
                "ms_per_sentence": round(embed_s * 1000 / embedded, 2),
                "whole_library_s_projected": round(embed_s / embedded * sentences),
            },
            "load_average": os.getloadavg(),
            "stores": [],
        }
        print(
            f"{args.plans} synthetic plans, {sentences} sentences; the real model embedded {embedded} sentences of "
            f"the {len(all_styles)} styles in {embed_s:.1f} s ({embed_s * 1000 / embedded:.1f} ms each): every "
            f"plan reuses its style's real vectors (+ noise). Embedding the whole library for real would add "
            f"~{embed_s / embedded * sentences / 60:.0f} min to each build below.",
            flush=True,
        )
        for name in args.stores.split(","):
            out = subprocess.run(
                [sys.executable, "-m", "eval.bench.library", "--child", name, "--work", str(work)],
                cwd=ROOT, capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                report["stores"].append({"store": name, "error": out.stderr[-500:]})
                continue
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            report["stores"].append(figures)
            print(json.dumps(figures, ensure_ascii=False), flush=True)
        report["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"library-bench-{args.plans}"  # one report per size: a small run does not replace the 1,000-plan one
    (args.out / f"{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / f"{name}.md").write_text(render(report), encoding="utf-8")
    print(render(report))
    return 0 if all("error" not in s for s in report["stores"]) else 1


def render(report: dict[str, Any]) -> str:
    e = report["real_embedding"]
    lines = [
        f"# The plan library in each vector store: {report['plans']} plans, {report['sentences']} sentences",
        "",
        f"Synthetic plans from {len(report['styles'])} fixture styles. The real model embedded the styles' "
        f"{e['sentences']} sentences ({e['ms_per_sentence']} ms each); every plan reuses its style's real vectors "
        f"plus noise, so the builds below leave out embedding — ~{e['whole_library_s_projected'] / 60:.0f} min for "
        "the whole library at that rate. Load average "
        f"{' / '.join(f'{x:.1f}' for x in report['load_average'])} before, "
        f"{' / '.join(f'{x:.1f}' for x in report.get('load_average_after', report['load_average']))} after "
        "(2 cores, shared: figures move with it).",
        "",
        "| | " + " | ".join(s["store"] for s in report["stores"]) + " |",
        "|---|" + "---|" * len(report["stores"]),
    ]

    def row(label: str, get: Any) -> None:
        cells = []
        for s in report["stores"]:
            try:
                cells.append(get(s))
            except (KeyError, TypeError):
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    def _memory(s: dict[str, Any]) -> str:
        return f"{s['rss_mib']} ({s['rss_mib_before_library']} before)"

    def pct(key: str) -> Any:
        return lambda s: f"{s[key]['p50_ms']} / {s[key]['p95_ms']} ms"

    row("build (parse, BM25, vectors into the store), s", lambda s: f"{s['build_s']}")
    row("load every plan (server start), s", lambda s: f"{s['load_s']}")
    row("index on disk, MiB", lambda s: f"{s['disk_mib']}")
    row(
        "memory after loading (process + engine), MiB",
        lambda s: f"{s['rss_mib']} ({s['rss_mib_before_library']} before)",
    )
    row("scoped question, whole answer (the plan's answering service, no cache), p50 / p95", pct("scoped_answer"))
    row("scoped vector search, p50 / p95", pct("scoped_vectors"))
    row("unscoped vector search (every plan), p50 / p95", pct("unscoped_vectors"))
    row("unscoped keyword, per-plan BM25 added up, p50 / p95", pct("unscoped_keyword_bm25_per_plan"))
    row("unscoped keyword, Milvus BM25, p50 / p95", pct("unscoped_keyword_milvus_bm25"))
    row("scoped search stays in its plan", lambda s: "yes" if s["scoped_only_its_plan"] else "NO")
    if any(s["store"] == "milvus" for s in report["stores"]):
        lines.append(MILVUS_LITE_NOTE)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # a store's child process (``--child NAME --work DIR``)
    p = argparse.ArgumentParser(prog="python -m eval.bench.library")
    p.add_argument("--child", required=True)
    p.add_argument("--work", type=Path, required=True)
    a = p.parse_args()
    print(json.dumps(child(a.child, a.work), ensure_ascii=False))
