"""The systems under evaluation, each turning a question into a ``Prediction``.

- ``PlanQASystem``: the answering service in-process (``rag.service``, as every channel calls it), with any
  retriever, with or without the LLM step;
- ``HttpSystem``: a running PlanQA server (``POST /ask``);
- ``LangChainBaseline``: the recipe a user would build in an afternoon — ``RecursiveCharacterTextSplitter``
  (chunk 500, overlap 50), the same embedding model, FAISS, the top-1 chunk as the answer;
- ``RetrieverBaseline``: plain top-1 retrieval over PlanQA's sentence chunks, BM25 over jieba words or dense
  only, the best sentence as the answer and its task's units (generous: the structure is given for free).

Baselines never refuse: they have no notion of "not covered".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np

from index.embeddings import PlanQAEmbeddings
from index.errors import InvalidQuestionError
from index.normalize import normalize
from index.store import PlanIndex
from rag.library import LibraryService
from rag.retrieve import Retriever
from rag.service import AnsweringService, Channel, Reply

RANKED = 3  # tasks a system returns, best first (PlanQA's default citations)


@dataclass(frozen=True)
class Prediction:
    found: bool  # False: the system said the plan does not cover the question
    tasks: tuple[int | str, ...]  # cited tasks, best first, by ref ("12", or "3-2" in a plan numbered per section)
    units: tuple[str, ...]  # units of the answer's first citation, lead first
    text: str  # what the user reads
    ms: float  # wall time of this one question
    intent: str = ""
    plan: str = ""  # in a library of plans: the plan of the first citation (of the reply, when none)
    offered: tuple[str, ...] = ()  # with found False: the tasks offered instead (相关的可能是…), by ref, closest first


class System(Protocol):
    name: str

    def ask(self, question: str) -> Prediction: ...


class PlanQASystem:
    """The answering service, asked as every channel asks it. Build it without an answer cache
    (``answer_cache_size=0``) so that each question's latency is its own work, not a look-up."""

    def __init__(self, service: AnsweringService | LibraryService, name: str = "planqa", plan: str | None = None):
        self.service = service
        self.name = name
        self.plan = plan  # a library's plan to ask (as /ask's ``plan``); None: the question's or the default
        self.replies: list[Reply] = []  # every reply, for reports on what the LLM step did

    def ask(self, question: str) -> Prediction:
        started = time.perf_counter()
        try:
            if self.plan is not None and isinstance(self.service, LibraryService):
                reply = self.service.ask(question, channel=Channel.EVAL, plan=self.plan)
            else:
                reply = self.service.ask(question, channel=Channel.EVAL)
        except InvalidQuestionError as e:
            return Prediction(False, (), (), str(e), (time.perf_counter() - started) * 1000, "invalid")
        ms = (time.perf_counter() - started) * 1000
        self.replies.append(reply)
        a = reply.answer
        first = a.citations[0].units if a.citations else ()
        refs = tuple(c.ref or str(c.task) for c in a.citations)
        plan = a.citations[0].plan if a.citations else (reply.plan.id if reply.plan else "")
        offered = tuple(x.ref or str(x.task) for x in a.suggestions)
        return Prediction(a.found, refs, tuple(first), a.text, ms, a.intent.value, plan, offered)


class HttpSystem:
    """A PlanQA server. 413/422 (an invalid question) count as refusals; any other error status raises, so a
    missing API key (401) or a rate limit (429) stops the run instead of scoring as refusals."""

    def __init__(self, url: str, name: str = "planqa-http", timeout: float = 30.0) -> None:
        self.name = name
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def ask(self, question: str) -> Prediction:
        started = time.perf_counter()
        r = self._client.post("/ask", json={"question": question})
        ms = (time.perf_counter() - started) * 1000
        if r.status_code in (413, 422):  # the server refused the question itself (empty, too long)
            return Prediction(False, (), (), r.text, ms, "invalid")
        r.raise_for_status()
        body = r.json()
        cites = body.get("citations", [])
        units = tuple(cites[0]["units"]) if cites else ()
        return Prediction(
            bool(body["found"]),
            tuple(c.get("ref") or str(c["task"]) for c in cites),
            units,
            body["answer"],
            ms,
            body["intent"],
            offered=tuple(x.get("ref") or str(x["task"]) for x in body.get("suggestions", [])),
        )

    def close(self) -> None:
        self._client.close()


# A task starts a line: "  8.大力加强体育、美育工作。…"; its note: "(责任单位:体卫艺科、…)".
_TASK_LINE = re.compile(r"^[ \t\u3000]*(\d{1,3})[.．、]", re.MULTILINE)
_NOTE = re.compile(r"[(（]责任单位[:：]([^)）]*)[)）]")


class LangChainBaseline:
    """RecursiveCharacterTextSplitter(500, 50) + the same embeddings + FAISS; the top-1 chunk is the answer.

    To score it, each chunk is credited to the task it overlaps most (by character offsets in the corpus), and
    its "units" are those of the 责任单位 note a reader would find in the chunk: the dominant task's note when
    the chunk contains it, else the first note in the chunk, else none.
    """

    name = "langchain"

    def __init__(
        self, corpus: str, embeddings: PlanQAEmbeddings, chunk_size: int = 500, chunk_overlap: int = 50
    ) -> None:
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
        self.docs = splitter.create_documents([corpus])
        self.embeddings = embeddings.as_langchain()  # the recipe talks to the model through LangChain's interface
        vectors = np.asarray(self.embeddings.embed_documents([d.page_content for d in self.docs]), dtype=np.float32)
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)
        spans = _task_spans(corpus)
        self.chunk_task: list[int | None] = []
        self.chunk_units: list[tuple[str, ...]] = []
        for d in self.docs:
            start = int(d.metadata["start_index"])
            end = start + len(d.page_content)
            overlaps = {t: min(end, e) - max(start, s) for t, (s, e) in spans.items()}
            task, overlap = max(overlaps.items(), key=lambda kv: kv[1], default=(None, 0))
            self.chunk_task.append(task if overlap > 0 else None)
            self.chunk_units.append(_chunk_units(corpus, d.page_content, start, spans.get(task) if task else None))

    def ask(self, question: str) -> Prediction:
        started = time.perf_counter()
        vector = np.asarray([self.embeddings.embed_query(question)], dtype=np.float32)
        _, ids = self.faiss.search(vector, min(len(self.docs), 10))
        ms = (time.perf_counter() - started) * 1000
        ranked = [int(i) for i in ids[0] if i >= 0]
        tasks: list[int] = []
        for i in ranked:
            t = self.chunk_task[i]
            if t is not None and t not in tasks:
                tasks.append(t)
        top = ranked[0]
        return Prediction(True, tuple(tasks[:RANKED]), self.chunk_units[top], self.docs[top].page_content, ms)


def _task_spans(corpus: str) -> dict[int, tuple[int, int]]:
    """Task number → (start, end) character offsets of its paragraph in the corpus."""
    spans: dict[int, tuple[int, int]] = {}
    for m in _TASK_LINE.finditer(corpus):
        end = corpus.find("\n", m.start())
        spans[int(m.group(1))] = (m.start(), end if end >= 0 else len(corpus))
    return spans


def _chunk_units(corpus: str, chunk: str, start: int, span: tuple[int, int] | None) -> tuple[str, ...]:
    notes = list(_NOTE.finditer(chunk))
    if span is not None:
        for m in notes:
            if span[0] <= start + m.start() < span[1]:
                return _split_units(m.group(1))
    return _split_units(notes[0].group(1)) if notes else ()


def _split_units(note: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in re.split(r"[、,，]", note) if u.strip())


class RetrieverBaseline:
    """Top-1 sentence by BM25 over jieba words, or by dense similarity alone; answers with that sentence."""

    def __init__(self, index: PlanIndex, retriever: Retriever) -> None:
        if retriever is Retriever.HYBRID:
            raise ValueError("a retriever baseline is bm25 or dense")
        self.index = index
        self.retriever = retriever
        self.name = f"{retriever.value}-top1"

    def ask(self, question: str) -> Prediction:
        started = time.perf_counter()
        text = normalize(question)
        if self.retriever is Retriever.DENSE:
            ids, _ = self.index.dense_top_k(text, 20)
            ranked = [int(i) for i in ids if i >= 0]
        else:
            words, _ = self.index.keyword_scores(text)
            ranked = [int(i) for i in np.argsort(-words, kind="stable")[:20]]
        ms = (time.perf_counter() - started) * 1000
        tasks: list[int] = []
        for i in ranked:
            t = self.index.chunks[i].task
            if t not in tasks:
                tasks.append(t)
        top = self.index.chunks[ranked[0]]
        task = self.index.plan.task(top.task)
        units = task.units if task else ()
        return Prediction(True, tuple(tasks[:RANKED]), tuple(units), top.text, ms)
