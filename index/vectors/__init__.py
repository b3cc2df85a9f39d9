"""Where the sentence vectors live: one small ``VectorStore`` Protocol and its backends, chosen by name.

- ``faiss`` (default, ``index/vectors/faiss_store.py``): in-process. Each plan's vectors are a file of its build
  folder (``dense.faiss``, hashed in the manifest like the others) and live in the process's memory once loaded.
- ``milvus`` (``index/vectors/milvus_store.py``): one Milvus collection for the whole library, through
  ``pymilvus`` — ``milvus-lite`` embedded in a local ``.db`` folder, or a Milvus server or cluster
  (``http://host:19530``). The vectors stay in Milvus; each row carries plan id, year and issuer as filterable
  fields, so a question scoped to a plan searches only that plan.

A plan's vectors are stored under a *build id* (the name of its build folder, ``index/store.py``). A build adds
its vectors under a new id; only when the build is complete does the plan's ``current`` file name it (the atomic
switch), and only then are builds older than the one before deleted. A search reads the build that ``current``
named when the plan was loaded: a build that failed half-way is never searched, and the next build deletes it.
"""

from __future__ import annotations

from index.errors import UnknownVectorStoreError
from index.vectors.base import PlanTag, PlanVectors, SearchScope, VectorHit, VectorStore, VectorStoreConfig, top_hits
from index.vectors.faiss_store import FaissStore
from index.vectors.milvus_store import MilvusStore  # imports pymilvus only when a MilvusStore is created

__all__ = ["PlanTag", "PlanVectors", "SearchScope", "VectorStoreConfig", "VectorHit", "VectorStore", "top_hits"]

DEFAULT_STORE = FaissStore.name
VECTOR_STORES: dict[str, type[VectorStore]] = {cls.name: cls for cls in (FaissStore, MilvusStore)}


def store_class(name: str) -> type[VectorStore]:
    """The backend called ``name``; UnknownVectorStoreError listing the known ones for any other."""
    try:
        return VECTOR_STORES[name]
    except KeyError:
        raise UnknownVectorStoreError(
            f"未知的向量库 {name!r}。Unknown vector store {name!r}: set PLANQA_VECTOR_STORE to one of "
            f"{', '.join(VECTOR_STORES)}."
        ) from None


def open_vector_store(name: str, config: VectorStoreConfig) -> VectorStore:
    """The backend ``name`` opened with ``config`` (Milvus connects here: VectorStoreError when it cannot)."""
    return store_class(name).create(config)
