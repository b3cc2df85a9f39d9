"""Build, persist and load a plan's index.

On disk (``PLANQA_INDEX_DIR``, default ``var/index/``)::

    current                      ← names the live build; replaced atomically (os.replace)
    builds/20261129T120000-1a2b/
        manifest.json            ← format, parser version, model id and dimension, corpus sha256, file hashes
        corpus.txt               ← the plan text the build was made from (the index is self-contained)
        chunks.json              ← one chunk per sentence, each carrying its task number
        dense.faiss              ← IndexFlatIP over L2-normalised sentence vectors (exact inner product)
        keyword.json             ← jieba words and character bigrams per chunk, and the plan's vocabulary

A build is written into a fresh folder (a unique name) and only then made current, each step fsynced (files,
then the folders whose entries changed), so a crash or a power cut mid-build leaves the previous index in service.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_type_hints

import faiss
import numpy as np

from index.chunking import Chunk, chunk_plan, plan_vocabulary
from index.embeddings import PlanQAEmbeddings
from index.errors import IndexCorruptError, IndexMissingError, IndexStaleError, IndexWriteError, PlanParseError
from index.keyword import BM25, WordTokenizer, char_bigrams
from index.model import Plan
from index.normalize import normalize
from index.parse import PARSER_VERSION, parse_plan
from index.readers import parse_document, read_document

FORMAT_VERSION = 1
KEEP_BUILDS = 2  # the live build and the one before it
BATCH_SIZE = 16  # sentences embedded per call
BUILD_LOCK_WAIT_S = 900.0  # how long to wait for another process's build (a large plan on a busy machine: minutes)
_FILES = ("corpus.txt", "chunks.json", "dense.faiss", "keyword.json")
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

    @property
    def version(self) -> str:
        """Identifies this exact index (for caches keyed by index version)."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()[:12]


_MANIFEST_FIELDS = get_type_hints(Manifest)


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
    batch_size: int = BATCH_SIZE,
) -> PlanIndex:
    """Parse, embed and persist ``corpus`` (the plan's text, as a reader returns it) under ``index_dir``, then make
    it the current build.

    Waits for a build another process is making of the same folder, then builds (this one was asked for).
    IndexWriteError when the system refuses a write; the index in service, if any, stays as it was."""
    with _build_lock(index_dir):
        return _build(corpus, corpus_name, index_dir, embeddings, progress, batch_size)


def _build(
    corpus: str,
    corpus_name: str,
    index_dir: Path,
    embeddings: PlanQAEmbeddings,
    progress: Progress | None,
    batch_size: int,
) -> PlanIndex:
    """Nothing is written before the plan parses: a text that is no plan raises PlanParseError and leaves the
    current build in service."""
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
    try:
        builds.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=builds))
    except OSError as e:
        raise _write_error(index_dir, e) from e
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
        _fsync_files(tmp)
        _fsync_dir(tmp)
        # Unique: two builds of one corpus in the same second (two processes, say) never share a folder.
        final = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{manifest.version}-{secrets.token_hex(3)}"
        tmp.rename(final)
        _fsync_dir(builds)
        _point_current(index_dir, final.name)
    except (OSError, RuntimeError) as e:  # RuntimeError: faiss's own write errors
        raise _write_error(index_dir, e) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(builds, keep=final.name)
    log.info("index built", extra={"event": "index_built", "index": str(final)})
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
    for name in _FILES:  # the manifest lists exactly these (_read_manifest)
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
    rebuild_corrupt: bool = False,
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
    rebuildable: tuple[type[Exception], ...] = (IndexMissingError, IndexStaleError)
    if rebuild_corrupt:
        rebuildable += (IndexCorruptError,)
    try:
        return load_index(index_dir, embeddings, corpus_sha256=sha256_text(corpus))
    except rebuildable:
        if not rebuild:
            raise
    parse_document(source, corpus_title(corpus_path))  # a file that is no plan: an error naming it, nothing written
    with _build_lock(index_dir):
        try:  # another process may have built it while this one waited for the lock
            index = load_index(index_dir, embeddings, corpus_sha256=sha256_text(corpus))
        except rebuildable as e:
            log.info("building the index: %s", e, extra={"event": "index_build", "index_dir": str(index_dir)})
        else:
            log.info(
                "index built by another process: loaded", extra={"event": "index_loaded", "index": str(index.path)}
            )
            return index
        return _build(corpus, corpus_title(corpus_path), index_dir, embeddings, progress, BATCH_SIZE)


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
            if not isinstance(value, dict) or set(value) != set(_FILES):
                return "files must list " + ", ".join(_FILES)
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


def _prune(builds: Path, keep: str) -> None:
    """Remove old builds and abandoned temp folders, keeping the live one and the one before it."""
    done = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    old = [p for p in done if p.name != keep][: max(0, len(done) - KEEP_BUILDS)]
    # Under the build lock no other build is writing here: any temp folder is abandoned (its builder died).
    stale_tmp = [p for p in builds.iterdir() if p.name.startswith(".building-")]
    for p in old + stale_tmp:
        shutil.rmtree(p, ignore_errors=True)
