"""The default vector store: FAISS in the process. A plan's vectors are ``dense.faiss`` in its build folder
(``IndexFlatIP`` over normalised vectors: exact cosine), loaded whole into memory.

A scoped search asks its plan's index alone (~0.03 ms at any library size); a search of the whole library asks
each served plan's index in turn and merges (p50 ~50 ms at 1,000 plans, 111,000 sentences, on a shared 2-core
machine: ``planqa bench --library``, ``eval/reports/library-bench-1000.md``). One merged index would be faster
across the library but hold every vector twice; no caller searches across the library today.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from index.errors import IndexCorruptError
from index.vectors.base import PlanTag, SearchScope, VectorHit, VectorStoreConfig, top_hits

if TYPE_CHECKING:
    import faiss

FILE = "dense.faiss"


class FaissPlanVectors:
    """One plan's ``IndexFlatIP``."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self.count, self.dimension = int(index.ntotal), int(index.d)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), k)
        return ids[0], scores[0]


class FaissStore:
    name: ClassVar[str] = "faiss"
    files: ClassVar[tuple[str, ...]] = (FILE,)
    filed_by_plan: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: dict[str, tuple[PlanTag, str, FaissPlanVectors]] = {}  # replaced whole: readers need no lock

    @classmethod
    def create(cls, config: VectorStoreConfig) -> Self:
        return cls()  # nothing to connect to: the vectors are files of each plan's build

    def add(self, tag: PlanTag, build: str, folder: Path, vectors: np.ndarray, texts: Sequence[str]) -> None:
        import faiss  # here, not at import: the settings import this module to list the stores

        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(folder / FILE))  # RuntimeError on a failed write: the caller reports it

    def open(self, tag: PlanTag, build: str, folder: Path, count: int) -> FaissPlanVectors:
        import faiss

        try:
            vectors = FaissPlanVectors(faiss.read_index(str(folder / FILE)))
        except RuntimeError as e:
            raise IndexCorruptError(
                f"索引无法读取：{folder / FILE}。The index file {folder / FILE} cannot be read ({e}): "
                "run `planqa index build`."
            ) from e
        if vectors.count != count:
            raise IndexCorruptError(
                f"索引不一致：{folder}。{folder / FILE} holds {vectors.count} vectors, the plan {count} sentences: "
                "run `planqa index build`."
            )
        with self._lock:
            self._served = {**self._served, tag.plan: (tag, build, vectors)}
        return vectors

    def search(self, vector: np.ndarray, k: int, scope: SearchScope | None = None) -> list[VectorHit]:
        scope = scope or SearchScope()
        served = self._served
        if scope.plan is not None:  # one plan: no need to look at the others
            entry = served.get(scope.plan)
            plans = [entry] if entry is not None and scope.admits(entry[0]) else []
        else:
            plans = [e for e in served.values() if scope.admits(e[0])]
        hits: list[VectorHit] = []
        for tag, _, vectors in plans:
            ids, scores = vectors.search(vector, k)
            hits.extend(VectorHit(tag.plan, int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0)
        return top_hits(hits, k)

    def remove(self, plan: str, keep: Collection[str] = ()) -> None:
        """Stop serving ``plan`` unless its served build is kept (the build folders are ``index/store.py``'s)."""
        with self._lock:
            entry = self._served.get(plan)
            if entry is not None and entry[1] not in keep:
                self._served = {k: v for k, v in self._served.items() if k != plan}
