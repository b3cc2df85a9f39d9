"""Build, persist and load a plan's index.

On disk (``PLANQA_INDEX_DIR``, default ``var/index/``)::

    current                      ← names the live build; replaced atomically (os.replace)
    builds/20261129T120000-1a2b/
        manifest.json            ← format, parser version, model id and dimension, corpus sha256, file hashes
        corpus.txt               ← the plan text the build was made from (the index is self-contained)
        chunks.json              ← one chunk per sentence, each carrying its task number
        dense.faiss              ← IndexFlatIP over L2-normalised sentence vectors (the ``faiss`` store only)
        keyword.json             ← jieba words and character bigrams per chunk, and the plan's vocabulary

The vectors go to the configured vector store (``index/vectors``): ``faiss`` writes ``dense.faiss`` here; ``milvus``
inserts them into its collection under this build's folder name, and the build folder holds the rest. The
manifest names the store and the plan id: an index built for another store is stale, never searched.

A build is written into a fresh folder (a unique name) and only then made current, each step fsynced (files,
then the folders whose entries changed), so a crash or a power cut mid-build leaves the previous index in service.
With Milvus, rows of a build that failed half-way stay in the collection, never searched (a search reads the
build ``current`` names), until the plan's next build deletes them with the builds it prunes.
One build at a time per index folder, across processes (``flock`` on ``.lock``): a process that waited for
another's build loads it instead of building again. Loading checks the manifest's shape and every file against
its hash. A write the system refuses (a full disk, a read-only folder) is an ``IndexWriteError`` that says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import get_type_hints

import numpy as np

from index.catalog import PlanMeta, derived_id, from_title
from index.chunking import Chunk, chunk_plan, plan_vocabulary
from index.embeddings import PlanQAEmbeddings
from index.errors import (
    IndexCorruptError,
    IndexMissingError,
    IndexStaleError,
    IndexWriteError,
    PlanParseError,
    VectorStoreError,
)
from index.keyword import BM25, WordTokenizer, char_bigrams
from index.model import Plan
from index.normalize import normalize
from index.parse import PARSER_VERSION, parse_plan
from index.readers import parse_document, read_document
from index.vectors import VECTOR_STORES, PlanTag, PlanVectors, VectorStore
from index.vectors.faiss_store import FaissStore

FORMAT_VERSION = 2  # 2: the vector store and the plan's tag in the manifest
KEEP_BUILDS = 2  # the live build and the one before it
BATCH_SIZE = 16  # sentences embedded per call
BUILD_LOCK_WAIT_S = 900.0  # how long to wait for another process's build (a large plan on a busy machine: minutes)
_FILES = ("corpus.txt", "chunks.json", "keyword.json")  # and the vector store's own (``VectorStore.files``)
_SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger("planqa.index")

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
    vector_store: str  # the backend that holds the vectors: faiss, milvus
    plan_id: str  # the plan's tag in the vector store: id, year (0: unknown), issuer
    plan_year: int
    plan_issuer: str

    @property
    def version(self) -> str:
        """Identifies this exact index (for caches keyed by index version)."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def tag(self) -> PlanTag:
        return PlanTag(self.plan_id, self.plan_year or None, self.plan_issuer)


_MANIFEST_FIELDS = get_type_hints(Manifest)


@dataclass(frozen=True)
class PlanIndex:
    """Everything retrieval needs, loaded once and shared read-only between requests."""

    plan: Plan
    chunks: tuple[Chunk, ...]
    dense: PlanVectors  # this plan's vectors in the vector store
    words: BM25
    bigrams: BM25
    tokenizer: WordTokenizer
    embeddings: PlanQAEmbeddings
    manifest: Manifest
    path: Path

    def dense_top_k(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, cosine similarities) of the ``k`` sentences nearest to the query ``text``, best first."""
        vector = self.embeddings.encode([text], is_query=True)
        return self.dense.search(vector[0], min(k, len(self.chunks)))

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
    batch_size: int = BATCH_SIZE,
    *,
    store: VectorStore | None = None,
    tag: PlanTag | None = None,
) -> PlanIndex:
    """Parse, embed and persist ``corpus`` (the plan's text, as a reader returns it) under ``index_dir`` and its
    vectors in ``store`` (default: FAISS) tagged ``tag`` (default: from the plan's title), then make it the
    current build.

    Waits for a build another process is making of the same folder, then builds (this one was asked for).
    IndexWriteError when the system refuses a write; the index in service, if any, stays as it was."""
    with _build_lock(index_dir):
        return _build(corpus, corpus_name, index_dir, embeddings, progress, batch_size, store or FaissStore(), tag)


def plan_tag(plan: Plan, given: PlanTag | None = None) -> PlanTag:
    """``given``, its year and issuer completed from the plan's title where it has none; without one, an id made
    from the title too (``qingshan-2022``), as the catalog makes one for a file named in Chinese."""
    said = from_title(plan.title)
    year, issuer = said.get("year"), said.get("issuer")
    if given is None:
        meta = PlanMeta(id="", title=plan.title, issuer="", region=str(said.get("region", "")), year=None)
        given = PlanTag(derived_id(replace(meta, year=year if isinstance(year, int) else None)))
    return PlanTag(
        given.plan,
        given.year if given.year is not None else (year if isinstance(year, int) else None),
        given.issuer or (issuer if isinstance(issuer, str) else ""),
    )


def _build(
    corpus: str,
    corpus_name: str,
    index_dir: Path,
    embeddings: PlanQAEmbeddings,
    progress: Progress | None,
    batch_size: int,
    store: VectorStore,
    tag: PlanTag | None,
) -> PlanIndex:
    """Nothing is written before the plan parses: a text that is no plan raises PlanParseError and leaves the
    current build in service."""
    plan = parse_plan(corpus, title=corpus_name)
    tag = plan_tag(plan, tag)
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

    builds = index_dir / "builds"
    try:
        builds.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=builds))
    except OSError as e:
        raise _write_error(index_dir, e) from e
    # Unique: two builds of one corpus in the same second (two processes, say) never share a folder. Named before
    # anything is written, since a store that keeps the vectors elsewhere files them under this name.
    final = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(6)}"
    try:
        (tmp / "corpus.txt").write_text(corpus, encoding="utf-8")
        _write_json(tmp / "chunks.json", [asdict(c) for c in chunks])
        _write_json(tmp / "keyword.json", keyword)
        store.add(tag, final.name, tmp, vectors, [c.text for c in chunks])
        manifest = Manifest(
            format=FORMAT_VERSION,
            parser_version=PARSER_VERSION,
            model_id=embeddings.model_id,
            dimension=embeddings.dimension,
            corpus_sha256=sha256_text(corpus),
            corpus_name=corpus_name,
            chunks=len(chunks),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            files={name: _sha256_file(tmp / name) for name in (*_FILES, *store.files)},
            vector_store=store.name,
            plan_id=tag.plan,
            plan_year=tag.year or 0,
            plan_issuer=tag.issuer,
        )
        _write_json(tmp / "manifest.json", asdict(manifest))
        _fsync_files(tmp)
        _fsync_dir(tmp)
        tmp.rename(final)
        _fsync_dir(builds)
        _point_current(index_dir, final.name)
    except (OSError, RuntimeError) as e:  # RuntimeError: faiss's own write errors
        raise _write_error(index_dir, e) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    kept = _prune(builds, keep=final.name)
    try:  # the vectors of the builds pruned, and of any build that failed half-way
        store.remove(tag.plan, keep=kept)
    except VectorStoreError as e:  # the build is in service; what is left is never searched, and the next build retries
        log.warning("old vectors not deleted: %s", e, extra={"event": "vectors_prune_failed", "index": str(final)})
    log.info("index built", extra={"event": "index_built", "index": str(final)})
    return load_index(index_dir, embeddings, store=store, tag=tag)


def load_index(
    index_dir: Path,
    embeddings: PlanQAEmbeddings,
    corpus_sha256: str | None = None,
    *,
    store: VectorStore | None = None,
    tag: PlanTag | None = None,
) -> PlanIndex:
    """Load the current build, its vectors served by ``store`` (default: FAISS). Raises IndexMissingError,
    IndexStaleError or IndexCorruptError.

    ``corpus_sha256``, when given, is the corpus the caller expects; another one makes the index stale. So does
    a build for another vector store, or (in a store that files vectors by plan: Milvus) for another tag.
    """
    store = store or FaissStore()
    current = index_dir / "current"
    if not current.is_file():
        raise IndexMissingError(
            f"索引不存在：{index_dir}。No index at {index_dir}: run `planqa index build` (or `make serve`)."
        )
    fix = f"run `planqa index build` to rebuild {index_dir}"
    try:
        path = index_dir / "builds" / current.read_text(encoding="utf-8").strip()
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"索引无法读取：{current}。The file {current} cannot be read ({e}): {fix}.") from e
    manifest = _read_manifest(path)
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
    if manifest.vector_store != store.name or (
        store.filed_by_plan and tag is not None and not _same_tag(manifest.tag, tag)
    ):
        raise IndexStaleError(
            f"索引所用向量库不同，请重建。The index at {path} keeps its vectors in {manifest.vector_store} for plan "
            f"{manifest.plan_id!r}, not in the configured {store.name}"
            + (f" for {tag.plan!r}" if tag is not None else "")
            + f" (PLANQA_VECTOR_STORE): {fix}."
        )
    for name in manifest.files:  # the manifest lists exactly the store's files (_read_manifest)
        if not (path / name).is_file() or _sha256_file(path / name) != manifest.files[name]:
            raise IndexCorruptError(
                f"索引文件损坏：{path / name}。The index file {path / name} is missing or does not match its "
                f"manifest: {fix}."
            )
    try:
        corpus = (path / "corpus.txt").read_text(encoding="utf-8")
        plan = parse_plan(corpus, title=manifest.corpus_name)
        chunks = tuple(Chunk(**c) for c in json.loads((path / "chunks.json").read_text(encoding="utf-8")))
        keyword = json.loads((path / "keyword.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, RuntimeError, PlanParseError) as e:
        raise IndexCorruptError(f"索引无法读取：{path}。The index at {path} cannot be read ({e}): {fix}.") from e
    if manifest.chunks != len(chunks):
        raise IndexCorruptError(f"索引不一致：{path}。The index at {path} is inconsistent: {fix}.")
    # Served under the library's tag where the vectors are the build's own file; else where they are filed.
    dense = store.open(manifest.tag if store.filed_by_plan or tag is None else tag, path.name, path, len(chunks))
    if dense.dimension != manifest.dimension:
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
    rebuild_corrupt: bool = False,
    *,
    store: VectorStore | None = None,
    tag: PlanTag | None = None,
) -> PlanIndex:
    """Load the index of ``corpus_path`` (any format ``index/readers`` reads); when it is missing or stale,
    rebuild if allowed, else raise.

    A corrupt index is not rebuilt silently (unless ``rebuild_corrupt``, for ``planqa index build --if-needed``):
    a file that no longer matches its hash means something damaged the disk or the folder, which an operator
    should see. IndexCorruptError names the file and the command that rebuilds it. A plan file that cannot be read
    or parsed raises DocumentError or PlanParseError (naming the file and the line) before anything is written.

    Several processes starting at once (the workers of one server) build once: the first takes the build lock,
    the others wait for it and then load what it built.
    """
    source = read_document(corpus_path)
    corpus = source.text
    store = store or FaissStore()
    rebuildable: tuple[type[Exception], ...] = (IndexMissingError, IndexStaleError)
    if rebuild_corrupt:
        rebuildable += (IndexCorruptError,)
    try:
        return load_index(index_dir, embeddings, corpus_sha256=sha256_text(corpus), store=store, tag=tag)
    except rebuildable:
        if not rebuild:
            raise
    parse_document(source, corpus_title(corpus_path))  # a file that is no plan: an error naming it, nothing written
    with _build_lock(index_dir):
        try:  # another process may have built it while this one waited for the lock
            index = load_index(index_dir, embeddings, corpus_sha256=sha256_text(corpus), store=store, tag=tag)
        except rebuildable as e:
            log.info("building the index: %s", e, extra={"event": "index_build", "index_dir": str(index_dir)})
        else:
            log.info(
                "index built by another process: loaded", extra={"event": "index_loaded", "index": str(index.path)}
            )
            return index
        return _build(corpus, corpus_title(corpus_path), index_dir, embeddings, progress, BATCH_SIZE, store, tag)


def _same_tag(built: PlanTag, wanted: PlanTag) -> bool:
    """The build is filed under the plan id wanted, with the year and issuer wanted where they are given."""
    return (
        built.plan == wanted.plan
        and (wanted.year is None or built.year == wanted.year)
        and (not wanted.issuer or built.issuer == wanted.issuer)
    )


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
    file = path / "manifest.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise IndexMissingError(
            f"索引不完整：{path}。The index build {path} has no manifest: run `planqa index build`."
        ) from e
    except (OSError, ValueError) as e:
        problem: str | None = f"cannot be read: {e}"
    else:
        made_by = data.get("format") if isinstance(data, dict) else None
        if type(made_by) is int and made_by != FORMAT_VERSION:  # before the fields: another version has others
            raise IndexStaleError(
                f"索引版本过旧，请重建。The index at {path} was made by another PlanQA version (format "
                f"{data.get('format')}): run `planqa index build`."
            )
        problem = _manifest_problem(data)
    if problem:
        raise IndexCorruptError(
            f"索引清单损坏：{file}。The index file {file} is damaged ({problem}): run `planqa index build`."
        )
    return Manifest(**data)


def _manifest_problem(data: object) -> str | None:
    """What is wrong with a manifest's content, or None: every field present with its type, and ``files``
    mapping exactly the index's files to sha256 digests."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if set(data) != set(_MANIFEST_FIELDS):
        return "fields " + ", ".join(sorted(set(data) ^ set(_MANIFEST_FIELDS))) + " missing or unexpected"
    for name, kind in _MANIFEST_FIELDS.items():
        value = data[name]
        if name == "files":
            store = data.get("vector_store")
            expected = (*_FILES, *VECTOR_STORES[store].files) if store in VECTOR_STORES else _FILES
            if not isinstance(value, dict) or set(value) != set(expected):
                return "files must list " + ", ".join(expected)
            if not all(isinstance(v, str) and _SHA256.fullmatch(v) for v in value.values()):
                return "files must give each file's sha256"
        elif not isinstance(value, kind) or isinstance(value, bool):
            return f"{name} is not of type {kind.__name__}"
    return None


def _write_json(path: Path, data: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync_files(folder: Path) -> None:
    for name in os.listdir(folder):
        with open(folder / name, "rb") as f:
            os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a file created, a rename) durable: fsync of the files alone does not."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_current(index_dir: Path, build: str) -> None:
    tmp = index_dir / f".current-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(build)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / "current")
    _fsync_dir(index_dir)


@contextlib.contextmanager
def _build_lock(index_dir: Path, wait_s: float = BUILD_LOCK_WAIT_S) -> Iterator[None]:
    """One build of ``index_dir`` at a time, across processes: ``flock`` on ``index_dir/.lock``, which the
    kernel releases when its holder exits, however it exits (SIGKILL included)."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / ".lock", "a")  # noqa: SIM115  (closed below)
    except OSError as e:
        raise _write_error(index_dir, e) from e
    with lock:
        deadline = time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info("waiting for another process's build", extra={"event": "index_build_wait"})
                    waited = True
                if time.monotonic() > deadline:
                    raise IndexWriteError(
                        f"另一个进程正在构建索引：{index_dir}。Another process has been building the index at "
                        f"{index_dir} for over {wait_s:.0f} s (it holds {index_dir / '.lock'}): let it finish, or "
                        "stop it, then retry."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_error(index_dir: Path, e: BaseException) -> IndexWriteError:
    why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    return IndexWriteError(
        f"索引写入失败：{index_dir}。Could not write the index at {index_dir} ({why}): free disk space or "
        "make the folder writable, then run `planqa index build`. The index in service, if any, is unchanged."
    )


def _prune(builds: Path, keep: str) -> set[str]:
    """Remove old builds and abandoned temp folders, keeping the live one and the one before it (returned)."""
    done = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    old = [p for p in done if p.name != keep][: max(0, len(done) - KEEP_BUILDS)]
    # Under the build lock no other build is writing here: any temp folder is abandoned (its builder died).
    stale_tmp = [p for p in builds.iterdir() if p.name.startswith(".building-")]
    for p in old + stale_tmp:
        shutil.rmtree(p, ignore_errors=True)
    return {p.name for p in done if p not in old}
