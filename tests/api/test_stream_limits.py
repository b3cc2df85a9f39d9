"""Answers the LLM writes are bounded: at most PLANQA_MAX_LLM_STREAMS at once (503 beyond), at most
PLANQA_MAX_STREAMS_PER_CLIENT per client (429 beyond), so slow streams cannot take every worker thread; the
probes and the routes that need no LLM keep answering; a reader who leaves frees its place at the model's next
token. Against a real server and an LLM endpoint that streams slowly (tests/llm_standin.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from api.errors import ApiError
from api.streams import StreamLimits
from index.store import PlanIndex
from tests.conftest import start_server, stop_server
from tests.llm_standin import SlowLLM
from tests.rawhttp import open_stream, reset

ASK = {"question": "谁负责近视防控?"}
NOT_COVERED = {"question": "明天天气怎么样?"}  # nothing found: answered without the LLM


@pytest.fixture(scope="module")
def slow_llm() -> Iterator[SlowLLM]:
    standin = SlowLLM(delay=0.5, chunks=20)  # ~10 s an answer
    yield standin
    standin.close()


@pytest.fixture(scope="module")
def server(slow_llm: SlowLLM, index_dir: Path, plan_index: PlanIndex) -> Iterator[str]:
    env = {
        "PLANQA_INDEX_DIR": str(index_dir),
        "PLANQA_REBUILD_INDEX": "false",
        "PLANQA_RATE_LIMIT_PER_IP": "0",
        "PLANQA_LLM_BASE_URL": slow_llm.url,
        "PLANQA_LLM_MODEL": "slow",
        "PLANQA_MAX_LLM_STREAMS": "6",
        "PLANQA_MAX_STREAMS_PER_CLIENT": "3",
    }
    proc, url = start_server(env)
    try:
        yield url
    finally:
        stop_server(proc)


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def _close_all(held: list[socket.socket], llm: SlowLLM) -> float:
    for sock in held:
        reset(sock)
    held.clear()
    seconds = _wait_for(lambda: llm.active == 0)
    time.sleep(0.3)  # the server's threads let go of the places
    return seconds


def _prompt(http: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response:
    """A request that must be answered within 2 s (the held streams take 10 s each)."""
    started = time.monotonic()
    r = http.request(method, path, timeout=2, **kwargs)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2
    return r


def test_many_slow_streams_are_bounded_and_the_rest_of_the_api_answers(server: str, slow_llm: SlowLLM) -> None:
    held: list[socket.socket] = []
    refused: list[bytes] = []
    try:
        # 48 readers from 16 addresses (three each, the per-client limit): more than the 40 worker threads.
        for n in range(48):
            sock, status, head = open_stream(server, "/ask/stream", ASK, source=f"127.0.0.{2 + n // 3}")
            if status == 200:
                held.append(sock)
            else:
                refused.append(head)
                sock.close()
        assert len(held) == 6 and len(refused) == 42
        _wait_for(lambda: slow_llm.active == 6)
        assert all(h.startswith(b"HTTP/1.1 503") and b"retry-after: 5" in h.lower() for h in refused)
        assert "服务器正忙".encode() in refused[0] and b"PLANQA_MAX_LLM_STREAMS" in refused[0]
        with httpx.Client(base_url=server) as http:
            assert _prompt(http, "GET", "/health").json()["status"] == "ok"
            assert _prompt(http, "GET", "/ready").status_code == 200
            # Routes that need a worker thread but not the LLM still get one.
            assert _prompt(http, "POST", "/ask", json=NOT_COVERED).json()["found"] is False
            assert _prompt(http, "GET", "/metrics").status_code == 200
            assert _prompt(http, "GET", "/tasks/8").json()["number"] == 8
            # A question for the LLM, streamed or not, is turned away at once, the OpenAI way too.
            busy = _prompt(http, "POST", "/ask", json=ASK)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
            assert busy.json()["error"]["code"] == "busy"
            chat = {"messages": [{"role": "user", "content": "第12项任务是什么"}]}
            assert _prompt(http, "POST", "/v1/chat/completions", json=chat).status_code == 503
        # Readers who leave free their places at the model's next token, not when the answer would have ended.
        assert _close_all(held, slow_llm) < 3
        sock, status, _ = open_stream(server, "/ask/stream", ASK)
        held.append(sock)
        assert status == 200
    finally:
        _close_all(held, slow_llm)


def test_one_client_gets_at_most_its_share(server: str, slow_llm: SlowLLM) -> None:
    held: list[socket.socket] = []
    try:
        statuses = []
        for _ in range(4):
            sock, status, head = open_stream(server, "/ask/stream", ASK, source="127.0.0.50")
            statuses.append(status)
            held.append(sock) if status == 200 else sock.close()
        assert statuses == [200, 200, 200, 429]
        assert b"PLANQA_MAX_STREAMS_PER_CLIENT" in head and b"retry-after: 5" in head.lower()
        # Another client is not affected.
        sock, status, _ = open_stream(server, "/ask/stream", ASK, source="127.0.0.51")
        held.append(sock)
        assert status == 200
    finally:
        _close_all(held, slow_llm)


def test_a_question_turned_away_is_not_remembered(server: str, slow_llm: SlowLLM) -> None:
    """A follow-up after a 503 reads against the turn before the refused question: the user retries it."""
    held: list[socket.socket] = []
    conversation = {"conversation_id": "busy-day"}
    try:
        with httpx.Client(base_url=server, timeout=30) as http:
            slow_llm.delay = 0.01  # the answers this test reads: quickly
            first = http.post("/ask", json={"question": "谁负责近视防控?", **conversation}).json()
            assert first["citations"][0]["task"] == 8
            slow_llm.delay = 0.5  # the ones that fill the places: slowly
            for n in range(6):
                sock, status, _ = open_stream(server, "/ask/stream", ASK, source=f"127.0.1.{n}")
                held.append(sock)
                assert status == 200
            refused = http.post("/ask", json={"question": "课后服务归哪个科室管?", **conversation})
            assert refused.status_code == 503
            _close_all(held, slow_llm)
            slow_llm.delay = 0.01
            lead = http.post("/ask", json={"question": "那它的牵头单位是谁?", **conversation}).json()
            assert lead["citations"][0]["task"] == 8, lead
    finally:
        _close_all(held, slow_llm)
        slow_llm.delay = 0.5


def test_places_are_counted_per_client_and_given_back_once() -> None:
    limits = StreamLimits(total=3, per_client=2)
    a1, a2, a3, b1 = (limits.admission(c) for c in ("a", "a", "a", "b"))
    a1()
    a2()
    with pytest.raises(ApiError) as refused:
        a3()
    assert refused.value.status == 429
    b1()
    with pytest.raises(ApiError) as full:
        limits.admission("c")()
    assert full.value.status == 503 and limits.active == 3
    a1.release()
    a1.release()  # twice: given back once
    a3.release()  # never taken: nothing to give back
    assert limits.active == 2
    a3()
    assert limits.active == 3
