"""Hybrid retrieval over sentence chunks, grouped by task (parent-document retrieval).

Three rankings of the plan's sentences — dense (FAISS inner product over normalised vectors), BM25 over jieba
words and BM25 over character bigrams — are fused with reciprocal-rank fusion. A keyword ranking with no
term in common with the question is dropped rather than fused, so an English question is not steered by
noise. Sentences are then grouped by the task they belong to: the task is the unit of citation.

A question in teachers' words is expanded with the plan's terms (``rag/lexicon.py``: 托管 → 课后服务) for the
keyword rankings; for an English or mixed question the dense query carries them too (measured on dev: hit@1 of
English questions 0.88 → 0.96, while Chinese ones lose a little, so Chinese questions embed as asked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from index.keyword import char_bigrams
from index.model import Hit, TaskHit
from index.normalize import normalize
from index.store import PlanIndex


class Retriever(StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


@dataclass(frozen=True)
class RetrievalConfig:
    retriever: Retriever = Retriever.HYBRID
    rrf_k: int = 60  # the usual RRF constant: dampens the weight of the very top ranks
    candidates: int = 50  # sentences each ranking contributes
    dense_weight: float = 1.0
    words_weight: float = 1.0
    bigrams_weight: float = 1.0
    # A fourth ranking, BM25 over the lexicon's plan terms alone, when the question says things in other words:
    # the bridge (托管 → 课后服务) then outweighs the question's framing words.
    lexicon_weight: float = 1.0


@dataclass(frozen=True)
class Retrieval:
    """Tasks best first, and where their dense similarities stand among all the plan's sentences."""

    hits: list[TaskHit]
    dense_mean: float = 0.0  # mean cosine of the question to every sentence (0 without the dense ranking)
    dense_std: float = 0.0
    sentence_similarity: dict[tuple[int, int], float] = field(default_factory=dict)  # (task, sentence) → cosine

    def similarity(self, hit: Hit) -> float:
        """The dense cosine of one retrieved sentence to the question (0 without the dense ranking)."""
        return self.sentence_similarity.get((hit.task, hit.sentence), 0.0)

    def dense_z(self, similarity: float) -> float:
        """A cosine in standard deviations above the mean: comparable across questions and languages."""
        return (similarity - self.dense_mean) / self.dense_std if self.dense_std > 1e-9 else 0.0


def search(index: PlanIndex, question: str, config: RetrievalConfig | None = None) -> list[TaskHit]:
    """Tasks relevant to ``question``, best first, each with its matching sentences best first."""
    return retrieve(index, question, config).hits


def retrieve(
    index: PlanIndex,
    question: str,
    config: RetrievalConfig | None = None,
    expansion: tuple[str, ...] = (),
    expand_dense: bool = False,
) -> Retrieval:
    """``search`` with the question's lexicon ``expansion`` added to the keyword query (and to the dense one when
    ``expand_dense``), keeping the dense similarities' distribution for the answer gate."""
    config = config or RetrievalConfig()
    text = normalize(question)
    n = len(index.chunks)
    if n == 0 or not text:
        return Retrieval([])
    expanded = " ".join((text, *expansion))
    k = min(config.candidates, n)
    rankings: list[tuple[float, list[int]]] = []
    similarity = np.zeros(n, dtype=np.float32)
    mean = std = 0.0

    if config.retriever in (Retriever.HYBRID, Retriever.DENSE):
        # Every sentence: a task's similarity is its best sentence's, and the gate needs the whole distribution.
        ids, scores = index.dense_top_k(expanded if expand_dense else text, n)
        similarity[ids] = scores
        mean, std = float(scores.mean()), float(scores.std())
        rankings.append((config.dense_weight, [int(i) for i in ids[:k]]))
    if config.retriever in (Retriever.HYBRID, Retriever.BM25):
        words, bigrams = index.keyword_scores(expanded)
        for weight, scores in ((config.words_weight, words), (config.bigrams_weight, bigrams)):
            ranked = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
            if ranked:  # no overlap at all: leave this ranking out
                rankings.append((weight, ranked))
        if expansion and config.lexicon_weight:
            scores = index.keyword_scores(" ".join(expansion))[0]
            ranked = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
            if ranked:
                rankings.append((config.lexicon_weight, ranked))

    fused: dict[int, float] = {}
    for weight, ranked in rankings:
        for rank, chunk_id in enumerate(ranked):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (config.rrf_k + rank + 1)

    by_task: dict[int, list[Hit]] = {}
    for chunk_id, score in sorted(fused.items(), key=lambda kv: -kv[1]):
        chunk = index.chunks[chunk_id]
        by_task.setdefault(chunk.task, []).append(Hit(chunk.task, chunk.sentence, chunk.text, score))
    task_similarity: dict[int, float] = {}
    sentence_similarity: dict[tuple[int, int], float] = {}
    for i, chunk in enumerate(index.chunks):
        task_similarity[chunk.task] = max(task_similarity.get(chunk.task, -1.0), float(similarity[i]))
        sentence_similarity[(chunk.task, chunk.sentence)] = float(similarity[i])
    hits = [
        TaskHit(task=task, score=task_hits[0].score, hits=tuple(task_hits), similarity=task_similarity[task])
        for task, task_hits in by_task.items()
    ]
    return Retrieval(sorted(hits, key=lambda h: -h.score), mean, std, sentence_similarity)


def coverage(terms: list[str], text: str) -> float:
    """Share of ``terms`` found in ``text``; a long term not found whole earns the share of its bigrams found.

    ``["近视", "防控"]`` against task 8's text → 1.0; ``["高考", "分数线"]`` against a plan that mentions 高考
    but no 分数线 → 0.5. Returns 0.0 for no terms.
    """
    if not terms:
        return 0.0
    total = 0.0
    for term in terms:
        if term in text:
            total += 1.0
        elif len(term) > 2:
            grams = char_bigrams(term)
            total += 0.5 * sum(g in text for g in grams) / len(grams) if grams else 0.0
    return total / len(terms)
