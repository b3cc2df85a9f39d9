"""Milvus as the vector store: one collection for the whole library, through ``pymilvus``.

``PLANQA_MILVUS_URI`` is a local path ending in ``.db`` — ``milvus-lite``, embedded: a folder of files that one
process opens at a time (``planqa serve`` with one worker) — or the address of a Milvus server or cluster
(``http://host:19530``), which any number of workers and machines share. Same client, same collection.

One row per sentence::

    pk       "<plan>/<build>/<chunk>"      primary key
    plan     the plan id                   partition key: a scoped search reads only its plan's partition
    build    the build folder's name       (index/store.py) — which build of the plan the row belongs to
    year     the plan's year (0: unknown)  filterable
    issuer   the plan's issuer             filterable
    chunk    the sentence's position in the plan's chunks.json
    text     the sentence                  for Milvus's own BM25 (the ``sparse`` field, a BM25 function)
    vector   its normalised embedding      FLAT index, inner product (exact, as FAISS)

milvus-lite 3.2 runs its engine inside this process (Python and numpy, a brute-force scan per segment): it is
slower than FAISS at every library size measured (``planqa bench --library``); it is for trying the Milvus path on
one machine. The collection is created with strong consistency: a search sees every row inserted before it, so a plan's
build is searchable the moment its ``current`` file names it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from index.errors import IndexStaleError, MissingDependencyError, VectorStoreError
from index.vectors.base import PlanTag, SearchScope, VectorHit, VectorStoreConfig, top_hits

DEFAULT_COLLECTION = "planqa_sentences"
INSERT_BATCH = 1000  # rows per insert call: ~1.6 MB of 384-d vectors, far below gRPC's message limit
MAX_TEXT = 4000  # characters of a sentence kept for BM25 (the field's limit is bytes: 3 a character)
MAX_LIMIT = 16384  # Milvus returns at most this many hits per search
CONNECT_TIMEOUT_S = 10.0  # a server that does not answer: an error in seconds, not a hung start-up
ADDRESS_SCHEMES = ("http", "https", "tcp", "unix")
log = logging.getLogger("planqa.index")


def address_problem(uri: str) -> str | None:
    """Why ``uri`` is no Milvus address, with what to set instead (None when it is one)."""
    if uri.endswith(".db") or uri.split("://", 1)[0] in ADDRESS_SCHEMES:
        return None
    return (
        f"PLANQA_MILVUS_URI={uri!r} is neither a path ending in .db (milvus-lite, embedded) nor a Milvus server "
        "address such as http://host:19530: set it to one of those, or unset it (PLANQA_INDEX_DIR/milvus.db)."
    )


def _client_class() -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as e:
        raise MissingDependencyError(
            "向量库 milvus 需要 pymilvus。The milvus vector store needs pymilvus and milvus-lite: "
            "pip install '.[milvus]' (or set PLANQA_VECTOR_STORE=faiss)."
        ) from e
    return MilvusClient


def _literal(value: str) -> str:
    """A string literal of Milvus's filter language (double quotes, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _where(scope: SearchScope) -> str:
    """The filter expression of ``scope`` ("" for the whole library)."""
    where = []
    if scope.plan is not None:
        where.append(f"plan == {_literal(scope.plan)}")
    if scope.year is not None:
        where.append(f"year == {int(scope.year)}")
    if scope.issuer is not None:
        where.append(f"issuer == {_literal(scope.issuer)}")
    return " and ".join(where)


class MilvusPlanVectors:
    """One plan's build in the collection: searches filter on plan and build."""

    def __init__(self, store: MilvusStore, plan: str, build: str, count: int) -> None:
        self.store, self.plan, self.build = store, plan, build
        self.count, self.dimension = count, store.dimension
        self.where = f"plan == {_literal(plan)} and build == {_literal(build)}"

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.store.raw_search(vector, min(k, self.count, MAX_LIMIT), self.where)
        ids = np.array([r["entity"]["chunk"] for r in rows], dtype=np.int64)
        return ids, np.array([r["distance"] for r in rows], dtype=np.float32)


class MilvusStore:
    name: ClassVar[str] = "milvus"
    files: ClassVar[tuple[str, ...]] = ()  # the vectors live in Milvus, not in the build folder
    filed_by_plan: ClassVar[bool] = True

    def __init__(self, uri: str, *, dimension: int, collection: str | None = None) -> None:
        self.uri, self.dimension = uri, dimension
        self.collection = collection or DEFAULT_COLLECTION
        self._lock = threading.Lock()
        self._served: dict[str, tuple[PlanTag, str]] = {}  # plan → (tag, build): replaced whole
        client = _client_class()
        if problem := address_problem(uri):
            raise VectorStoreError(f"Milvus 地址无效：{uri!r}。{problem}")
        if uri.endswith(".db"):
            try:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise VectorStoreError(
                    f"无法创建 Milvus 文件夹：{uri}。Cannot create the folder of PLANQA_MILVUS_URI={uri} "
                    f"({e.strerror or e}): set it to a .db path in a writable folder."
                ) from e
        with self._errors("connect to"):
            self.client = client(uri=uri, timeout=CONNECT_TIMEOUT_S)
            if not self.client.has_collection(self.collection):
                self._create()
            self._check_dimension()

    @classmethod
    def create(cls, config: VectorStoreConfig) -> Self:
        return cls(config.uri, dimension=config.dimension, collection=config.collection or None)

    # -- the VectorStore protocol ------------------------------------------------------------------------

    def add(self, tag: PlanTag, build: str, folder: Path, vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Insert the plan's rows under ``build``; nothing searches them until the build is opened."""
        rows = [
            {
                "pk": f"{tag.plan}/{build}/{i}",
                "plan": tag.plan,
                "build": build,
                "year": tag.year or 0,
                "issuer": tag.issuer,
                "chunk": i,
                "text": text[:MAX_TEXT],
                "vector": vector,
            }
            for i, (vector, text) in enumerate(zip(np.asarray(vectors, dtype=np.float32), texts, strict=True))
        ]
        with self._errors("write to"):
            for start in range(0, len(rows), INSERT_BATCH):
                self.client.insert(self.collection, rows[start : start + INSERT_BATCH])
            if self.uri.endswith(".db"):
                # milvus-lite searches rows in a growing segment ~10x slower than sealed ones (measured here). A
                # server seals segments itself and rate-limits flush calls: it is not asked to.
                self.client.flush(self.collection)

    def open(self, tag: PlanTag, build: str, folder: Path, count: int) -> MilvusPlanVectors:
        """Serve ``build`` for its plan, after checking the collection holds its first and last rows."""
        if count:
            wanted = [f"{tag.plan}/{build}/0", f"{tag.plan}/{build}/{count - 1}"]
            with self._errors("read"):
                found = self.client.get(self.collection, ids=wanted, output_fields=["chunk"])
            if len(found) != len(set(wanted)):
                raise IndexStaleError(
                    f"Milvus 中缺少计划 {tag.plan} 的向量。The Milvus collection {self.collection} at {self.uri} lacks "
                    f"the vectors of plan {tag.plan} (build {build}): run `planqa index build` to rebuild it."
                )
        with self._lock:
            self._served = {**self._served, tag.plan: (tag, build)}
        return MilvusPlanVectors(self, tag.plan, build, count)

    def search(self, vector: np.ndarray, k: int, scope: SearchScope | None = None) -> list[VectorHit]:
        """The ``k`` nearest sentences among the served builds of the plans ``scope`` admits."""
        scope = scope or SearchScope()
        served = self._served
        if scope.plan is not None:
            entry = served.get(scope.plan)
            if entry is None or not scope.admits(entry[0]):
                return []
            rows = self.raw_search(vector, k, f"plan == {_literal(scope.plan)} and build == {_literal(entry[1])}")
            return top_hits([VectorHit(r["entity"]["plan"], r["entity"]["chunk"], r["distance"]) for r in rows], k)
        where = _where(SearchScope(year=scope.year, issuer=scope.issuer))
        # Rows of a build not served (one being written, or left by a failed build until the next one deletes it)
        # are dropped here; ask for more when they crowd out the served ones.
        limit = min(k * 2 + 8, MAX_LIMIT)
        while True:
            rows = self.raw_search(vector, limit, where)
            hits = [
                VectorHit(r["entity"]["plan"], r["entity"]["chunk"], r["distance"])
                for r in rows
                if (e := served.get(r["entity"]["plan"])) is not None and e[1] == r["entity"]["build"]
            ]
            if len(hits) >= k or len(rows) < limit or limit >= MAX_LIMIT:
                return top_hits(hits, k)
            limit = min(limit * 4, MAX_LIMIT)

    def remove(self, plan: str, keep: Collection[str] = ()) -> None:
        """Delete the plan's rows of every build but ``keep`` (and stop serving it unless its build is kept)."""
        where = f"plan == {_literal(plan)}"
        if keep:
            where += " and build not in [" + ", ".join(_literal(b) for b in sorted(keep)) + "]"
        with self._errors("delete from"):
            self.client.delete(self.collection, filter=where)
        with self._lock:
            entry = self._served.get(plan)
            if entry is not None and entry[1] not in keep:
                self._served = {k: v for k, v in self._served.items() if k != plan}

    # -- Milvus's own full-text search -------------------------------------------------------------------

    def keyword_search(self, text: str, k: int, scope: SearchScope | None = None) -> list[VectorHit]:
        """BM25 over the ``text`` field (jieba, search mode), in the served builds: Milvus's full-text search."""
        scope = scope or SearchScope()
        served = self._served
        with self._errors("search"):
            found = self.client.search(
                self.collection,
                data=[text],
                anns_field="sparse",
                filter=_where(scope),
                limit=min(k * 2 + 8, MAX_LIMIT),
                output_fields=["plan", "build", "chunk"],
                search_params={"metric_type": "BM25"},
            )
        # BM25 scores come as they are (a Milvus server) or negated (milvus-lite ranks by distance).
        hits = [
            VectorHit(r["entity"]["plan"], r["entity"]["chunk"], abs(r["distance"]))
            for r in found[0]
            if (e := served.get(r["entity"]["plan"])) is not None and e[1] == r["entity"]["build"]
        ]
        return top_hits(hits, k)

    # -- helpers -------------------------------------------------------------------------------------------

    def raw_search(self, vector: np.ndarray, limit: int, where: str) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        with self._errors("search"):
            found = self.client.search(
                self.collection,
                data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()],
                anns_field="vector",
                filter=where,
                limit=limit,
                output_fields=["plan", "build", "chunk"],
                search_params={"metric_type": "IP"},
            )
        return list(found[0])

    def close(self) -> None:
        with self._errors("close"):
            self.client.close()

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("plan", DataType.VARCHAR, max_length=64, is_partition_key=True)
        schema.add_field("build", DataType.VARCHAR, max_length=128)
        schema.add_field("year", DataType.INT64)
        schema.add_field("issuer", DataType.VARCHAR, max_length=512)
        schema.add_field("chunk", DataType.INT64)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=MAX_TEXT * 3,
            enable_analyzer=True,
            analyzer_params={"tokenizer": {"type": "jieba", "mode": "search"}},
        )
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                     output_field_names=["sparse"])
        )  # fmt: skip
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(self.collection, schema=schema, index_params=index, consistency_level="Strong")
        log.info("milvus collection created", extra={"event": "milvus_collection", "collection": self.collection})

    def _check_dimension(self) -> None:
        fields = self.client.describe_collection(self.collection).get("fields", [])
        dims = [int(f.get("params", {}).get("dim", 0)) for f in fields if f.get("name") == "vector"]
        if dims != [self.dimension]:
            raise IndexStaleError(
                f"Milvus 集合维度不符。The Milvus collection {self.collection} at {self.uri} holds {dims or '?'}-d "
                f"vectors, the model makes {self.dimension}-d: set PLANQA_MILVUS_COLLECTION to another name (or drop "
                "the collection), then run `planqa index build`."
            )

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as e:
            if self.uri.endswith(".db"):
                fix = "milvus-lite opens its file in one process only: stop the other, or use a Milvus server"
            elif doing == "connect to":
                fix = (
                    "start the Milvus server, or set PLANQA_MILVUS_URI to a reachable http://host:19530 or a .db path "
                    "(milvus-lite), or PLANQA_VECTOR_STORE=faiss"
                )
            else:
                fix = "check the Milvus server's health and log, then retry"
            raise VectorStoreError(
                f"向量库操作失败：{self.uri}。Could not {doing} Milvus at {self.uri}, collection {self.collection} "
                f"({getattr(e, 'message', e)}): {fix}."
            ) from e
