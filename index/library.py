"""The plan set on disk: the plan files a library serves, and one index per plan.

    PLANQA_PLANS/                         ← the plans folder (default: data/, the bundled plan)
        qingshan-edu-2022.txt             ← a plan file (.txt .docx .pdf .html)
        qingshan-edu-2022.meta.json       ← its id and metadata (optional for files put there by hand)
        .removed/<id>-<time>/             ← what ``remove`` took out: a plan's text is never deleted
    PLANQA_INDEX_DIR/plans/<id>/          ← the plan's index (``index/store.py``: builds, current, .lock)
    PLANQA_INDEX_DIR/.library.lock        ← adds and removes take it exclusively, readers of the folder shared

Adding a plan reads and checks it first (a file that does not read, or whose check report leaves lines
unaccounted for, is refused and nothing is written), builds its index aside (``build_index``: a new build
folder, then an atomic switch of ``current``), and only then writes the file and its meta.json into the folder,
each through a temporary file and an atomic rename. A process that watches the folder (another worker) therefore
finds a new file's index already built. ``PLANQA_CORPUS`` serves one file as a one-plan library, which cannot be
changed (its folder is not the library's).

Every plan's vectors go to the folder's vector store (``index/vectors``: FAISS files in each plan's index, or
one Milvus collection), tagged with the plan's id, year and issuer; everything here goes through ``open_index`` /
``build_index`` of one plan, keyed by the plan id.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from index.catalog import (
    META_SUFFIX,
    PLAN_ID,
    PlanMeta,
    check_plan_id,
    meta_path,
    plan_meta,
    read_meta_file,
)
from index.check import PlanReport, check_document
from index.embeddings import PlanQAEmbeddings
from index.errors import IndexWriteError, PlanConflictError, PlanNotFoundError, PlanRejectedError
from index.readers import parse_document, read_bytes, read_document, supported_suffixes
from index.store import PlanIndex, Progress, build_index, corpus_title, open_index
from index.vectors import PlanTag, VectorStore
from index.vectors.faiss_store import FaissStore

log = logging.getLogger("planqa.index")

FileStamp = tuple[str, int, int]  # (name, size, mtime_ns) of a plan file and of its meta.json


@dataclass(frozen=True)
class LoadedPlan:
    """A plan of the library with its index, and the file state it was loaded from."""

    meta: PlanMeta
    index: PlanIndex
    path: Path
    stamp: tuple[FileStamp, ...] = ()


@dataclass(frozen=True)
class Added:
    """What adding a plan did: its metadata, its check report, its index (already current), whether it
    replaced a plan of the same id."""

    plan: LoadedPlan
    report: PlanReport
    replaced: bool


class PlanFolder:
    """The plan files of a library and their indexes. ``single``: serve that one file (``PLANQA_CORPUS``)."""

    def __init__(
        self, root: Path, index_root: Path, single: Path | None = None, store: VectorStore | None = None
    ) -> None:
        self.root, self.index_root, self.single = root, index_root, single
        self.store: VectorStore = store or FaissStore()  # every plan's vectors, searchable across the library

    @property
    def writable(self) -> bool:
        return self.single is None

    def index_dir(self, plan_id: str) -> Path:
        """``PLANQA_INDEX_DIR/plans/<id>``; a one-plan library (``PLANQA_CORPUS``) keeps its index where it always
        was, ``PLANQA_INDEX_DIR`` itself."""
        return self.index_root if self.single is not None else self.index_root / "plans" / check_plan_id(plan_id)

    def files(self) -> list[Path]:
        """The plan files, by name (hidden files, meta files and other types left out)."""
        if self.single is not None:
            return [self.single]
        try:
            entries = sorted(self.root.iterdir())
        except OSError:
            return []
        suffixes = supported_suffixes()
        return [
            p
            for p in entries
            if p.is_file()
            and not p.name.startswith(".")
            and not p.name.endswith(META_SUFFIX)
            and p.suffix.lower() in suffixes
        ]

    def stamps(self) -> dict[Path, tuple[FileStamp, ...]]:
        """Each plan file's state (size and time of the file and of its meta.json): a change means reload."""
        return {p: _stamp(p) for p in self.files()}

    def load(
        self, path: Path, embeddings: PlanQAEmbeddings, rebuild: bool, progress: Progress | None = None,
        rebuild_corrupt: bool = False,
    ) -> LoadedPlan:  # fmt: skip
        """Open (building when missing or stale and ``rebuild``) the index of the plan file ``path``."""
        stamp = _stamp(path)
        plan_id = _given_id(path)
        if plan_id is None:  # a file put in the folder by hand, named in Chinese: the id comes from its title
            plan = parse_document(read_document(path), corpus_title(path))
            plan_id = plan_meta(path, plan.title).id
        index = open_index(
            path, self.index_dir(plan_id), embeddings, rebuild, progress, rebuild_corrupt, store=self.store,
            tag=self.tag(path, plan_id),
        )  # fmt: skip
        meta = plan_meta(path, index.plan.title)
        return LoadedPlan(meta=_with_id(meta, plan_id), index=index, path=path, stamp=stamp)

    def tag(self, path: Path, plan_id: str | None = None) -> PlanTag:
        """How the plan file ``path`` is filed in the vector store: its id, and the year and issuer its meta.json
        gives (else the build reads them from the plan's title)."""
        written = plan_meta(path, corpus_title(path))
        return PlanTag(plan_id or plan_id_of(path), written.year, written.issuer)

    def load_all(
        self, embeddings: PlanQAEmbeddings, rebuild: bool, progress: Progress | None = None,
        rebuild_corrupt: bool = False,
    ) -> list[LoadedPlan]:  # fmt: skip
        """Every plan of the folder; PlanConflictError when two files claim one id."""
        with self._lock(exclusive=False):
            loaded = [self.load(p, embeddings, rebuild, progress, rebuild_corrupt) for p in self.files()]
        check_unique(loaded)
        return loaded

    def add(
        self,
        data: bytes,
        name: str,
        embeddings: PlanQAEmbeddings,
        *,
        plan_id: str | None = None,
        meta: dict[str, object] | None = None,
        replace: bool = False,
        progress: Progress | None = None,
    ) -> Added:
        """Check, index and store an uploaded plan file (``name`` gives its format). Refused, with nothing
        written: DocumentError (does not read), PlanParseError (no plan), PlanRejectedError (lines unaccounted
        for: the report says which), PlanConflictError (the id is taken and ``replace`` is not set)."""
        self._check_writable()
        given = {k: v for k, v in (meta or {}).items() if v not in (None, "")}
        if plan_id:
            given["id"] = check_plan_id(plan_id)
        source = read_bytes(data, name)
        title = given.get("title")
        report = check_document(source, title if isinstance(title, str) else "")
        if not report.complete:
            missing = report.lines_read - report.lines_accounted
            raise PlanRejectedError(
                f"计划文件有{missing}行无法归类，未添加。"
                f"{name}: {missing} line(s) of the text are neither in the plan nor "
                "reported as dropped; nothing was changed (see the report).",
                report,
            )
        described = plan_meta(Path(name), report.plan.title, given)
        with self._lock(exclusive=True):
            current = {plan_id_of(p): p for p in self.files()}
            old = current.get(described.id)
            if old is not None and not replace:
                raise PlanConflictError(
                    f"计划编号已存在：{described.id}。"
                    f"A plan with id {described.id!r} is already in the library: remove "
                    "it first, give another id, or replace it."
                )
            index = build_index(
                source.text, described.title, self.index_dir(described.id), embeddings, progress,
                store=self.store, tag=PlanTag.of(described),
            )  # fmt: skip
            target = self.root / f"{described.id}{Path(name).suffix.lower()}"
            try:
                if old is not None and old != target:
                    self._set_aside(old, described.id)
                _write_atomic(meta_path(target), json.dumps(described.as_dict(), ensure_ascii=False, indent=2))
                _write_atomic(target, data)
            except OSError as e:
                raise IndexWriteError(
                    f"计划文件写入失败：{target}。"
                    f"Could not write {target} ({e.strerror or e}): free disk space or make "
                    f"{self.root} writable. The plan's index was built; add the file again to serve it."
                ) from e
        log.info("plan added", extra={"event": "plan_added", "plan": described.id, "replaced": old is not None})
        loaded = LoadedPlan(meta=described, index=index, path=target, stamp=_stamp(target))
        return Added(plan=loaded, report=report, replaced=old is not None)

    def remove(self, plan_id: str) -> Path:
        """Take the plan out of the folder (its file and meta.json set aside in ``.removed/``, never deleted)
        and delete its index. Returns where the file went. PlanNotFoundError for an unknown id."""
        self._check_writable()
        with self._lock(exclusive=True):
            path = {plan_id_of(p): p for p in self.files()}.get(plan_id)
            if path is None:
                raise PlanNotFoundError(
                    f"没有编号为 {plan_id} 的计划。No plan {plan_id!r} in the library: see GET /plans."
                )
            kept = self._set_aside(path, plan_id)
            shutil.rmtree(self.index_dir(plan_id), ignore_errors=True)
            self.store.remove(plan_id)
        log.info("plan removed", extra={"event": "plan_removed", "plan": plan_id, "kept": str(kept)})
        return kept

    def _set_aside(self, path: Path, plan_id: str) -> Path:
        folder = self.root / ".removed" / f"{plan_id}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=True)
        for file in (path, meta_path(path)):
            if file.exists():
                os.replace(file, folder / file.name)
        return folder / path.name

    def _check_writable(self) -> None:
        if not self.writable:
            raise PlanConflictError(
                "单计划模式（PLANQA_CORPUS）不能增删计划。"
                "This library serves one file (PLANQA_CORPUS): set PLANQA_PLANS "
                "to a folder of plans to add or remove plans."
            )

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        """Adds and removes one at a time across processes; loading the folder waits for them (and they for it)."""
        try:
            self.index_root.mkdir(parents=True, exist_ok=True)
            lock = open(self.index_root / ".library.lock", "a")  # noqa: SIM115  (closed below)
        except OSError as e:
            raise IndexWriteError(
                f"索引目录不可写：{self.index_root}。"
                f"Cannot write {self.index_root} ({e.strerror or e}): make it writable."
            ) from e
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def check_unique(plans: list[LoadedPlan]) -> None:
    seen: dict[str, Path] = {}
    for p in plans:
        if p.meta.id in seen:
            raise PlanConflictError(
                f"两个计划文件使用同一编号 {p.meta.id}：{seen[p.meta.id]}、{p.path}。Two plan files have the id "
                f"{p.meta.id!r} ({seen[p.meta.id]}, {p.path}): give one another id in its meta.json."
            )
        seen[p.meta.id] = p.path


def plan_id_of(path: Path) -> str:
    """The id of the plan file ``path``: its meta.json's, else its stem, else made from its title."""
    given = _given_id(path)
    return given if given is not None else describe(path).id


def describe(path: Path) -> PlanMeta:
    """The metadata of the plan file ``path`` (parsing it for its title)."""
    meta = plan_meta(path, parse_document(read_document(path), corpus_title(path)).title)
    given = _given_id(path)
    return _with_id(meta, given) if given is not None else meta


def _given_id(path: Path) -> str | None:
    """The id a file declares (meta.json's ``id``) or its stem, when that is a valid id; None otherwise."""
    given = read_meta_file(path).get("id")
    if isinstance(given, str) and given:
        return check_plan_id(given)
    stem = path.stem.lower()
    return stem if PLAN_ID.fullmatch(stem) else None


def _with_id(meta: PlanMeta, plan_id: str) -> PlanMeta:
    from dataclasses import replace

    return meta if meta.id == plan_id else replace(meta, id=plan_id)


def _stamp(path: Path) -> tuple[FileStamp, ...]:
    out = []
    for file in (path, meta_path(path)):
        try:
            st = file.stat()
        except OSError:
            continue
        out.append((file.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _write_atomic(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
