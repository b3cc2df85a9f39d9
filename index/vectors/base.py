"""The vector store's types: what a plan's vectors are tagged with, what a search covers, what it returns, and the
two Protocols every backend implements (``index/vectors/__init__.py`` maps names to backends)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

import numpy as np

if TYPE_CHECKING:
    from index.catalog import PlanMeta


@dataclass(frozen=True)
class VectorStoreConfig:
    """What a backend is opened with (``config/wiring.py`` fills it from the settings)."""

    dimension: int  # of the embedding model's vectors
    uri: str = ""  # milvus: a .db path (milvus-lite) or http://host:19530
    collection: str = ""  # milvus: the collection ("" for the default)


@dataclass(frozen=True)
class PlanTag:
    """What a plan's vectors are stored with: the fields a search can filter on."""

    plan: str  # the plan id
    year: int | None = None
    issuer: str = ""

    @classmethod
    def of(cls, meta: PlanMeta) -> PlanTag:
        return cls(meta.id, meta.year, meta.issuer)


@dataclass(frozen=True)
class SearchScope:
    """Which plans a search covers: all of them (the default), or those matching every field given."""

    plan: str | None = None
    year: int | None = None
    issuer: str | None = None

    def admits(self, tag: PlanTag) -> bool:
        return (
            (self.plan is None or tag.plan == self.plan)
            and (self.year is None or tag.year == self.year)
            and (self.issuer is None or tag.issuer == self.issuer)
        )


@dataclass(frozen=True)
class VectorHit:
    plan: str
    chunk: int  # the sentence's position in the plan's chunks (index/chunking.py)
    score: float  # inner product of normalised vectors: the cosine


class PlanVectors(Protocol):
    """One plan's vectors in one build, as retrieval searches them (``PlanIndex.dense``)."""

    count: int
    dimension: int

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, cosines) of the ``k`` sentences nearest to ``vector`` (one normalised query), best first."""
        ...


class VectorStore(Protocol):
    """The library's sentence vectors. ``add`` writes a plan's build; ``open`` makes a build the one served for
    its plan (``search`` covers only served builds); ``remove`` deletes a plan's builds but those kept."""

    name: ClassVar[str]
    files: ClassVar[tuple[str, ...]]  # files the backend writes into a build folder (the manifest hashes them)
    # True: the vectors live outside the build, filed under the plan's tag, so a build made under another plan id
    # cannot be served under this one. False (FAISS): the build's own file, whatever id the library gives the plan.
    filed_by_plan: ClassVar[bool]

    @classmethod
    def create(cls, config: VectorStoreConfig) -> Self: ...

    def add(self, tag: PlanTag, build: str, folder: Path, vectors: np.ndarray, texts: Sequence[str]) -> None: ...

    def open(self, tag: PlanTag, build: str, folder: Path, count: int) -> PlanVectors: ...

    def search(self, vector: np.ndarray, k: int, scope: SearchScope | None = None) -> list[VectorHit]: ...

    def remove(self, plan: str, keep: Collection[str] = ()) -> None: ...


def top_hits(hits: Sequence[VectorHit], k: int) -> list[VectorHit]:
    """The ``k`` best of ``hits`` (merged from several plans or sources), best first; ties by plan and chunk."""
    return sorted(hits, key=lambda h: (-h.score, h.plan, h.chunk))[:k]
