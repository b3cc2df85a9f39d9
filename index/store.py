"""Build, persist and load a plan's index.

On disk (``PLANQA_INDEX_DIR``, default ``var/index/``)::

    current                      ← names the live build; replaced atomically (os.replace)
    builds/20261129T120000-1a2b/
        manifest.json            ← format, parser version, model id and dimension, corpus sha256, file hashes
        corpus.txt               ← the plan text the build was made from (the index is self-contained)
        chunks.json              ← one chunk per sentence, each carrying its task number
        dense.faiss              ← IndexFlatIP over L2-normalised sentence vectors (exact inner product)
        keyword.json             ← jieba words and character bigrams per chunk, and the plan's vocabulary

A build is written into a fresh folder and only then made current, so a crash mid-build leaves the previous
index in service. Loading checks every file against the manifest's hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from index.chunking import Chunk, chunk_plan, plan_vocabulary
from index.embeddings import PlanQAEmbeddings
from index.errors import IndexCorruptError, IndexMissingError, IndexStaleError, PlanParseError
from index.keyword import BM25, WordTokenizer, char_bigrams
from index.model import Plan
from index.normalize import normalize
from index.parse import PARSER_VERSION, parse_plan
from index.readers import parse_document, read_document

FORMAT_VERSION = 1
KEEP_BUILDS = 2  # the live build and the one before it
_FILES = ("corpus.txt", "chunks.json", "dense.faiss", "keyword.json")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Manifest:
    format: int
    parser_version: str
    model_id: str
    dimension: int
    corpus_sha256: str
    corpus_name: str
    chunks: int
    built_at: str
    files: dict[str, str]  # file name → sha256

    @property
    def version(self) -> str:
        """Identifies this exact index (for caches keyed by index version)."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class PlanIndex:
    """Everything retrieval needs, loaded once and shared read-only between requests."""

    plan: Plan
    chunks: tuple[Chunk, ...]
    dense: faiss.Index
    words: BM25
    bigrams: BM25
    tokenizer: WordTokenizer
    embeddings: PlanQAEmbeddings
    manifest: Manifest
    path: Path

    def dense_top_k(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, cosine similarities) of the ``k`` sentences nearest to the query ``text``, best first."""
        vector = self.embeddings.encode([text], is_query=True)
        scores, ids = self.dense.search(vector, min(k, len(self.chunks)))
        return ids[0], scores[0]

    def keyword_scores(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25 scores of every sentence for the query ``text``: (over jieba words, over character bigrams)."""
        return self.words.scores(self.tokenizer.words(text)), self.bigrams.scores(char_bigrams(text))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_index(
    corpus: str,
    corpus_name: str,
    index_dir: Path,
    embeddings: PlanQAEmbeddings,
    progress: Progress | None = None,
    batch_size: int = 16,
) -> PlanIndex:
    """Parse, embed and persist ``corpus`` (the plan's text, as a reader returns it) under ``index_dir``, then
    make it the current build. Nothing is written before the plan parses: a text that is no plan raises
    PlanParseError and leaves the current build in service."""
    plan = parse_plan(corpus, title=corpus_name)
    chunks = chunk_plan(plan)
    vectors = np.zeros((len(chunks), embeddings.dimension), dtype=np.float32)
    for start in range(0, len(chunks), batch_size):
        batch = [c.text for c in chunks[start : start + batch_size]]
        vectors[start : start + len(batch)] = embeddings.encode(batch, is_query=False)
        if progress:
            progress(min(start + batch_size, len(chunks)), len(chunks))

    tokenizer = WordTokenizer(plan_vocabulary(plan))
    normalised = [normalize(c.text) for c in chunks]
    keyword = {
        "vocabulary": list(tokenizer.vocabulary),
        "words": [tokenizer.words(t) for t in normalised],
        "bigrams": [char_bigrams(t) for t in normalised],
    }
    dense = faiss.IndexFlatIP(embeddings.dimension)
    dense.add(vectors)

    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=builds))
    try:
        (tmp / "corpus.txt").write_text(corpus, encoding="utf-8")
        _write_json(tmp / "chunks.json", [asdict(c) for c in chunks])
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        _write_json(tmp / "keyword.json", keyword)
        manifest = Manifest(
            format=FORMAT_VERSION,
            parser_version=PARSER_VERSION,
            model_id=embeddings.model_id,
            dimension=embeddings.dimension,
            corpus_sha256=sha256_text(corpus),
            corpus_name=corpus_name,
            chunks=len(chunks),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            files={name: _sha256_file(tmp / name) for name in _FILES},
        )
        _write_json(tmp / "manifest.json", asdict(manifest))
        _fsync_dir(tmp)
        final = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{manifest.version}"
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        _point_current(index_dir, final.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(builds, keep=final.name)
    return load_index(index_dir, embeddings)


def load_index(index_dir: Path, embeddings: PlanQAEmbeddings, corpus_sha256: str | None = None) -> PlanIndex:
    """Load the current build. Raises IndexMissingError, IndexStaleError or IndexCorruptError.

    ``corpus_sha256``, when given, is the corpus the caller expects; another one makes the index stale.
    """
    current = index_dir / "current"
    if not current.is_file():
        raise IndexMissingError(
            f"索引不存在：{index_dir}。No index at {index_dir}: run `planqa index build` (or `make serve`)."
        )
    path = index_dir / "builds" / current.read_text(encoding="utf-8").strip()
    manifest = _read_manifest(path)
    fix = f"run `planqa index build` to rebuild {index_dir}"
    if manifest.format != FORMAT_VERSION or manifest.parser_version != PARSER_VERSION:
        raise IndexStaleError(
            f"索引版本过旧，请重建。The index at {path} was made by another PlanQA version "
            f"(format {manifest.format}, parser {manifest.parser_version}): {fix}."
        )
    if manifest.model_id != embeddings.model_id or manifest.dimension != embeddings.dimension:
        raise IndexStaleError(
            f"索引所用嵌入模型不同，请重建。The index at {path} was built with {manifest.model_id} "
            f"({manifest.dimension}-d), not the configured {embeddings.model_id} ({embeddings.dimension}-d): {fix}."
        )
    if corpus_sha256 is not None and manifest.corpus_sha256 != corpus_sha256:
        raise IndexStaleError(f"语料已更改，请重建索引。The corpus changed since the index at {path} was built: {fix}.")
    for name, digest in manifest.files.items():
        if not (path / name).is_file() or _sha256_file(path / name) != digest:
            raise IndexCorruptError(
                f"索引文件损坏：{path / name}。The index file {path / name} is missing or does not match its "
                f"manifest: {fix}."
            )
    try:
        corpus = (path / "corpus.txt").read_text(encoding="utf-8")
        plan = parse_plan(corpus, title=manifest.corpus_name)
        chunks = tuple(Chunk(**c) for c in json.loads((path / "chunks.json").read_text(encoding="utf-8")))
        keyword = json.loads((path / "keyword.json").read_text(encoding="utf-8"))
        dense = faiss.read_index(str(path / "dense.faiss"))
    except (OSError, ValueError, TypeError, RuntimeError, PlanParseError) as e:
        raise IndexCorruptError(f"索引无法读取：{path}。The index at {path} cannot be read ({e}): {fix}.") from e
    if dense.ntotal != len(chunks) or dense.d != manifest.dimension:
        raise IndexCorruptError(f"索引不一致：{path}。The index at {path} is inconsistent: {fix}.")
    return PlanIndex(
        plan=plan,
        chunks=chunks,
        dense=dense,
        words=BM25(keyword["words"]),
        bigrams=BM25(keyword["bigrams"]),
        tokenizer=WordTokenizer(keyword["vocabulary"]),
        embeddings=embeddings,
        manifest=manifest,
        path=path,
    )


def open_index(
    corpus_path: Path,
    index_dir: Path,
    embeddings: PlanQAEmbeddings,
    rebuild: bool,
    progress: Progress | None = None,
) -> PlanIndex:
    """Load the index of ``corpus_path`` (any format ``index/readers`` reads); when it is missing or stale,
    rebuild if allowed, else raise.

    A corrupt index is never rebuilt silently: a file that no longer matches its hash means something
    damaged the disk or the folder, which an operator should see. IndexCorruptError names the file and the
    command that rebuilds it. A plan file that cannot be read or parsed raises DocumentError or PlanParseError
    (naming the file and the line) before anything is written.
    """
    source = read_document(corpus_path)
    try:
        return load_index(index_dir, embeddings, corpus_sha256=sha256_text(source.text))
    except (IndexMissingError, IndexStaleError):
        if not rebuild:
            raise
    parse_document(source, corpus_title(corpus_path))  # a file that is no plan: an error naming it, nothing written
    return build_index(source.text, corpus_title(corpus_path), index_dir, embeddings, progress=progress)


def corpus_title(corpus_path: Path) -> str:
    """The plan's title from ``<corpus>.meta.json`` beside the text (``{"title": …}``); "" lets the parser
    take it from the text's own title line."""
    meta = corpus_path.with_suffix(".meta.json")
    try:
        title = json.loads(meta.read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        title = None
    return title.strip() if isinstance(title, str) else ""


def _read_manifest(path: Path) -> Manifest:
    try:
        return Manifest(**json.loads((path / "manifest.json").read_text(encoding="utf-8")))
    except FileNotFoundError as e:
        raise IndexMissingError(
            f"索引不完整：{path}。The index build {path} has no manifest: run `planqa index build`."
        ) from e
    except (OSError, ValueError, TypeError) as e:
        raise IndexCorruptError(
            f"索引清单损坏：{path / 'manifest.json'}。The index file {path / 'manifest.json'} cannot be read "
            f"({e}): run `planqa index build`."
        ) from e


def _write_json(path: Path, data: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync_dir(path: Path) -> None:
    for name in os.listdir(path):
        with open(path / name, "rb") as f:
            os.fsync(f.fileno())


def _point_current(index_dir: Path, build: str) -> None:
    tmp = index_dir / f".current-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(build)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / "current")


def _prune(builds: Path, keep: str) -> None:
    """Remove old builds and abandoned temp folders, keeping the live one and the one before it."""
    done = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    old = [p for p in done if p.name != keep][: max(0, len(done) - KEEP_BUILDS)]
    stale_tmp = [
        p for p in builds.iterdir() if p.name.startswith(".building-") and time.time() - p.stat().st_mtime > 3600
    ]
    for p in old + stale_tmp:
        shutil.rmtree(p, ignore_errors=True)
