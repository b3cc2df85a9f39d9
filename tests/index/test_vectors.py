"""The vector stores (index/vectors): FAISS in the process and Milvus through pymilvus, here the real milvus-lite.

Every backend passes the same suite: scoped searches stay in their plan, a plan's rebuild and removal leave
no stale rows behind, and the answers are the same from either store, on the bundled plan and a small library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import DEFAULT_CORPUS, ROOT, Settings
from config.wiring import build_library, vector_store
from eval.gold import load_gold
from index.catalog import meta_path
from index.embeddings import PlanQAEmbeddings
from index.errors import IndexStaleError, UnknownVectorStoreError, VectorStoreError
from index.library import LoadedPlan, PlanFolder
from index.store import build_index, corpus_title
from index.vectors import VECTOR_STORES, SearchScope, VectorStore, VectorStoreConfig, open_vector_store
from rag.answer import answer
from rag.types import Answer
from tests.conftest import free_port

PLANS = ROOT / "eval" / "data" / "plans"
LIBRARY = ("qingshan-edu-2022", "qingshan-edu-2023", "yunling-health-2023")


def _said(a: Answer) -> tuple[object, ...]:
    """What a reader sees of an answer (the cosines to 3 places: FAISS and Milvus round float32 differently)."""
    cited = tuple((c.task, c.excerpt, c.units, c.lead_unit, round(c.score, 3)) for c in a.citations)
    return a.found, a.text, cited, tuple(s.task for s in a.suggestions)


def _library(folder: Path, index_root: Path, store: VectorStore, embeddings: PlanQAEmbeddings) -> list[LoadedPlan]:
    folder.mkdir()
    for plan_id in LIBRARY:
        shutil.copy(PLANS / f"{plan_id}.txt", folder)
        shutil.copy(meta_path(PLANS / f"{plan_id}.txt"), folder)
    return PlanFolder(folder, index_root, store=store).load_all(embeddings, rebuild=True)


@pytest.fixture(scope="module", params=list(VECTOR_STORES))
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embeddings
) -> Iterator[VectorStore]:  # type: ignore[no-untyped-def]
    """Each backend, fresh: milvus-lite in a file of its own."""
    config = VectorStoreConfig(embeddings.dimension, uri=str(tmp_path_factory.mktemp("milvus") / "vectors.db"))
    opened = open_vector_store(request.param, config)
    yield opened
    if hasattr(opened, "close"):
        opened.close()


@pytest.fixture(scope="module")
def library(store: VectorStore, tmp_path_factory: pytest.TempPathFactory, embeddings) -> dict[str, LoadedPlan]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp(f"library-{store.name}")
    return {p.meta.id: p for p in _library(root / "plans", root / "index", store, embeddings)}


@pytest.fixture(scope="module")
def faiss_library(tmp_path_factory: pytest.TempPathFactory, embeddings) -> dict[str, LoadedPlan]:  # type: ignore[no-untyped-def]
    """The same library in FAISS: what the other backends' answers are compared with."""
    root = tmp_path_factory.mktemp("library-reference")
    store = open_vector_store("faiss", VectorStoreConfig(embeddings.dimension))
    return {p.meta.id: p for p in _library(root / "plans", root / "index", store, embeddings)}


def test_a_scoped_search_returns_only_its_plan(store, library, embeddings):  # type: ignore[no-untyped-def]
    vector = embeddings.encode(["家庭医生签约服务"], is_query=True)[0]
    everywhere = store.search(vector, 30)
    assert {h.plan for h in everywhere} >= {"yunling-health-2023"} and len(everywhere) == 30
    assert [h.score for h in everywhere] == sorted((h.score for h in everywhere), reverse=True)
    for plan_id, loaded in library.items():
        hits = store.search(vector, 30, SearchScope(plan=plan_id))
        assert hits and {h.plan for h in hits} == {plan_id}
        # The store's scoped search and the plan's own (what retrieval asks) agree, sentence for sentence.
        ids, _ = loaded.index.dense.search(vector, 30)
        assert [h.chunk for h in hits] == [int(i) for i in ids]
    by_year = store.search(vector, 50, SearchScope(year=2022))
    assert by_year and {h.plan for h in by_year} == {"qingshan-edu-2022"}
    by_issuer = store.search(vector, 80, SearchScope(issuer="青山市教育局"))
    assert {h.plan for h in by_issuer} == {"qingshan-edu-2022", "qingshan-edu-2023"}
    assert store.search(vector, 10, SearchScope(plan="no-such-plan")) == []
    assert store.search(vector, 10, SearchScope(plan="yunling-health-2023", year=2022)) == []


def test_both_backends_give_the_same_answers_on_a_library(store, library, faiss_library):  # type: ignore[no-untyped-def]
    asked = 0
    for plan_id, loaded in library.items():
        assert loaded.index.manifest.vector_store == store.name and loaded.index.manifest.tag.plan == plan_id
        reference = faiss_library[plan_id].index
        for q in load_gold(PLANS / f"{plan_id}.gold.jsonl"):
            assert _said(answer(loaded.index, q.question)) == _said(answer(reference, q.question)), q.question
            asked += 1
    assert asked >= 80


def test_both_backends_give_the_same_answers_on_the_bundled_plan(tmp_path, embeddings, plan_index):  # type: ignore[no-untyped-def]
    store = open_vector_store("milvus", VectorStoreConfig(embeddings.dimension, uri=str(tmp_path / "m.db")))
    text = DEFAULT_CORPUS.read_text(encoding="utf-8")
    milvus = build_index(text, corpus_title(DEFAULT_CORPUS), tmp_path / "index", embeddings, store=store)
    assert milvus.manifest.vector_store == "milvus" and "dense.faiss" not in milvus.manifest.files
    questions = load_gold()
    for q in questions:
        assert _said(answer(milvus, q.question)) == _said(answer(plan_index, q.question)), q.question
    assert sum(answer(milvus, q.question).found for q in questions) > len(questions) // 2  # not all refusals


def test_a_rebuild_and_a_removal_leave_no_stale_vectors(tmp_path, embeddings):  # type: ignore[no-untyped-def]
    store = open_vector_store("milvus", VectorStoreConfig(embeddings.dimension, uri=str(tmp_path / "m.db")))
    folder = PlanFolder(tmp_path / "plans", tmp_path / "index", store=store)
    (tmp_path / "plans").mkdir()
    data = (PLANS / "yunling-health-2023.txt").read_bytes()
    first = folder.add(data, "yunling-health-2023.txt", embeddings).plan.index
    builds = [first.path.name]
    for _ in range(2):
        builds.append(folder.add(data, "yunling-health-2023.txt", embeddings, replace=True).plan.index.path.name)
    rows = store.client.query(store.collection, filter='plan == "yunling-health-2023"', output_fields=["build"])  # type: ignore[attr-defined]
    assert {r["build"] for r in rows} == set(builds[-2:])  # the live build and the one before it (KEEP_BUILDS)
    vector = embeddings.encode(["家庭医生签约服务"], is_query=True)[0]
    assert len(store.search(vector, 500)) == first.manifest.chunks  # one build served, not three
    folder.remove("yunling-health-2023")
    assert store.search(vector, 10) == []
    assert store.client.query(store.collection, filter='plan == "yunling-health-2023"', limit=1) == []  # type: ignore[attr-defined]


def test_the_backend_is_switched_by_a_setting(tmp_path, embeddings):  # type: ignore[no-untyped-def]
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(PLANS / "qingshan-edu-2022.txt", plans)
    shutil.copy(meta_path(PLANS / "qingshan-edu-2022.txt"), plans)
    question = "青山市2022年谁负责课后服务？"
    faiss = Settings(plans=plans, index_dir=tmp_path / "index")
    served = build_library(faiss, embeddings=embeddings).service("qingshan-edu-2022").index
    assert served.manifest.vector_store == "faiss" and (served.path / "dense.faiss").is_file()

    env = {"vector_store": "milvus", "milvus_uri": str(tmp_path / "m.db")}
    with pytest.raises(IndexStaleError, match="PLANQA_VECTOR_STORE"):  # never a FAISS build searched as Milvus
        build_library(
            Settings(plans=plans, index_dir=tmp_path / "index", rebuild_index=False, **env), embeddings=embeddings
        )
    milvus = Settings(plans=plans, index_dir=tmp_path / "index", **env)
    switched = build_library(milvus, embeddings=embeddings).service("qingshan-edu-2022").index
    assert switched.manifest.vector_store == "milvus" and not (switched.path / "dense.faiss").exists()
    assert _said(answer(switched, question)) == _said(answer(served, question))
    assert Settings(vector_store="milvus", index_dir=tmp_path / "i").milvus_address == str(tmp_path / "i" / "milvus.db")


def test_a_bad_milvus_uri_says_what_to_do(tmp_path, embeddings):  # type: ignore[no-untyped-def]
    for bad in ("milvus.example.org:19530", "ftp://host/x", "vectors.sqlite"):
        with pytest.raises(ValidationError, match=r"PLANQA_MILVUS_URI.*http://host:19530.*unset it"):
            Settings(vector_store="milvus", milvus_uri=bad)
    with pytest.raises(ValidationError, match="PLANQA_VECTOR_STORE.*faiss, milvus"):
        Settings(vector_store="qdrant")
    with pytest.raises(UnknownVectorStoreError, match="faiss, milvus"):
        open_vector_store("qdrant", VectorStoreConfig(384))
    # Nothing listens on the port: an error in seconds that says what to do, never a hang.
    nobody = Settings(vector_store="milvus", milvus_uri=f"http://127.0.0.1:{free_port()}", index_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(VectorStoreError, match="start the Milvus server, or set PLANQA_MILVUS_URI"):
        vector_store(nobody, embeddings.dimension)
    assert time.monotonic() - started < 30
    # A collection made for another model's vectors is refused, with the way out.
    uri = str(tmp_path / "m.db")
    open_vector_store("milvus", VectorStoreConfig(512, uri=uri)).close()  # type: ignore[attr-defined]
    with pytest.raises(IndexStaleError, match="PLANQA_MILVUS_COLLECTION"):
        open_vector_store("milvus", VectorStoreConfig(embeddings.dimension, uri=uri))


@pytest.mark.slow
def test_the_cli_reports_an_unreachable_milvus(tmp_path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "PLANQA_INDEX_DIR": str(tmp_path),
        "PLANQA_VECTOR_STORE": "milvus",
        "PLANQA_MILVUS_URI": f"http://127.0.0.1:{free_port()}",
    }
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "index", "build"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "planqa: 向量库操作失败" in out.stderr and "PLANQA_MILVUS_URI" in out.stderr
    env["PLANQA_MILVUS_URI"] = "localhost:19530"
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "index", "build"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and "PLANQA_MILVUS_URI" in out.stderr and "Traceback" not in out.stderr


def test_milvus_lite_is_refused_for_several_workers(tmp_path):  # type: ignore[no-untyped-def]
    from api.cli import check_workers
    from index.errors import PlanQAError

    lite = Settings(vector_store="milvus", milvus_uri=str(tmp_path / "m.db"))
    check_workers(lite, 1)
    with pytest.raises(PlanQAError, match="--workers 1, or set PLANQA_MILVUS_URI to a Milvus server"):
        check_workers(lite, 2)
    check_workers(Settings(vector_store="milvus", milvus_uri="http://milvus.internal:19530"), 4)  # a server: fine
