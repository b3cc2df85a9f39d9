"""Keyword search: Okapi BM25 over jieba words and over character bigrams.

Written out rather than imported: at a few hundred sentences a numpy BM25 is instant, persists as plain
JSON (nothing pickled) and needs no extra dependency.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from functools import lru_cache
from typing import Any

import numpy as np

from index.waiting import refuse_to_wait

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]")
# Words that carry no topic: question words and the plan's most common verbs.
STOPWORDS = frozenset(
    "的 了 和 与 及 是 在 有 由 对 把 将 为 等 各 其 这 那 哪 谁 吗 呢 啊 吧 么 什么 哪些 哪个 怎么 怎样 如何 多少 "
    "几 个 请问 一下 想 知道 问 请 我 我们 你 你们 负责 归 管 谁管 主管 牵头 责任 单位 部门 科室 处室 哪家 "
    "工作 任务 方面 关于 要求 具体 内容 情况 今年 进行 开展 推进 加强 全面 进一步 切实 不断 积极 深入 "
    "the a an of to in for on and or is are what which who how does do".split()
)


def char_bigrams(text: str) -> list[str]:
    """``"课后服务"`` → ``["课后", "后服", "服务"]``; one-character runs are kept as they are."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return grams


_BASE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _base_tokenizer_unlocked():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(60)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _base_tokenizer():  # type: ignore[no-untyped-def]
    """jieba's dictionary, loaded once per process (0.7–1 s: it unmarshals 350,000 words and their prefixes)."""
    with _BASE_LOCK:
        return _base_tokenizer_unlocked()


class _Layered(dict[str, int]):
    """A plan's words over jieba's dictionary: looked up here first, then in ``base``, which is shared, never
    written. (A ``ChainMap`` does the same, but its Python-level look-ups made segmenting a question twice as
    slow: jieba looks up every fragment of the text.)"""

    __slots__ = ("base",)

    def __init__(self, base: dict[str, int]) -> None:
        super().__init__()
        self.base = base

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def __missing__(self, key: str) -> int:
        return self.base[key]

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        return dict.get(self, key) if dict.__contains__(self, key) else self.base.get(key, default)


class WordTokenizer:
    """jieba with the plan's own vocabulary (unit names, quoted terms, titles) added to a private dictionary.

    jieba splits "各县（市、区）教育局" and "基教科" into pieces unless told the names; the words go into a
    layer of their own over the base dictionary (``_Layered``: the 500,000 entries are shared, not copied —
    15 MiB a plan), never into jieba's global one, so two plans in one process do not mix.

    The dictionary loads in a background thread from the moment the tokenizer is made, so a server is ready
    (lookups by number or unit answer) before it has; the first question that needs words waits for it (or,
    inside ``index.waiting.no_waiting()``, raises ``WouldWait``).
    """

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.vocabulary = tuple(sorted(set(vocabulary)))
        self._ready: Future[Any] = Future()
        threading.Thread(target=self._load, name="planqa-dictionary", daemon=True).start()

    def _load(self) -> None:
        try:
            import jieba

            base = _base_tokenizer()
            tokenizer = jieba.Tokenizer()
            tokenizer.FREQ, tokenizer.total = _Layered(base.FREQ), base.total  # add_word writes the layer
            tokenizer.initialized = True
            for word in self.vocabulary:
                tokenizer.add_word(word, freq=50000)
        except BaseException as e:  # handed to whoever needs the words, as the error it is
            self._ready.set_exception(e)
        else:
            self._ready.set_result(tokenizer)

    @property
    def loaded(self) -> bool:
        return self._ready.done()

    @property
    def _jieba(self) -> Any:
        if not self._ready.done():
            refuse_to_wait("word dictionary still loading")
        return self._ready.result()

    def frequency(self, word: str) -> int:
        """How often ``word`` occurs in jieba's corpus of general Chinese (0 for a word it does not know): 东西, 一样
        and 特别 are common anywhere; 空调 and 学籍 are not."""
        return int(_base_tokenizer().FREQ.get(word, 0))

    def phrases(self, text: str) -> list[str]:
        """Precise-mode words (each character in one word only), for measuring how much of a question a text
        covers; ``words`` adds overlapping parts ("幼儿" inside "幼儿园"), which would count twice."""
        return self._keep(self._jieba.cut(text))

    def words(self, text: str) -> list[str]:
        """Search-mode words (long words and their parts), stop words and punctuation removed."""
        return self._keep(self._jieba.cut_for_search(text))

    @staticmethod
    def _keep(words: Iterable[str]) -> list[str]:
        return [w for w in (w.strip().lower() for w in words) if w and w not in STOPWORDS and _WORD.match(w)]


class BM25:
    """Okapi BM25 over pre-tokenised documents."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [list(d) for d in docs]
        self.k1, self.b = k1, b
        tfs = [Counter(d) for d in self.docs]
        lengths = np.array([len(d) for d in self.docs], dtype=np.float32)
        self._len_norm = 1 - b + b * lengths / max(float(lengths.mean()) if len(lengths) else 1.0, 1e-9)
        df: Counter[str] = Counter()
        for tf in tfs:
            df.update(tf.keys())
        n = len(self.docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        # Each term's documents and counts (one flat array each, a term's run between two bounds), so that a query
        # term costs the documents that hold it, not a pass over all of them (a term absent from a document adds
        # exactly 0 to its score).
        postings: dict[str, list[tuple[int, int]]] = {t: [] for t in self._idf}
        for i, tf in enumerate(tfs):
            for term, count in tf.items():
                postings[term].append((i, count))
        self._row = {t: r for r, t in enumerate(postings)}
        self._bounds = [0, *itertools.accumulate(len(p) for p in postings.values())]
        self._ids = np.array([i for p in postings.values() for i, _ in p], dtype=np.intp)
        self._counts = np.array([c for p in postings.values() for _, c in p], dtype=np.float32)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document; all zero when no query term occurs in any document."""
        out = np.zeros(len(self.docs), dtype=np.float32)
        for term in set(query):
            idf = self._idf.get(term)
            if idf is None:
                continue
            row = self._row[term]
            start, stop = self._bounds[row], self._bounds[row + 1]
            ids, tf = self._ids[start:stop], self._counts[start:stop]
            out[ids] += idf * tf * (self.k1 + 1) / (tf + self.k1 * self._len_norm[ids])
        return out
