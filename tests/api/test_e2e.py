"""End to end against a real uvicorn server on loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_ask_over_http(live_server):
    r = httpx.post(f"{live_server}/ask", json={"question": "谁负责近视防控?"}, timeout=10)
    assert r.status_code == 200 and r.headers["x-request-id"]
    body = r.json()
    assert body["found"] and body["citations"][0]["task"] == 8


def test_concurrent_requests_all_answered(live_server):
    questions = [
        "谁负责近视防控?",
        "课后服务归哪个科室管?",
        "基教科负责哪些任务?",
        "第12项任务是什么",
        "天气如何",
    ] * 8
    with httpx.Client(base_url=live_server, timeout=30) as c, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda q: c.post("/ask", json={"question": q}), questions))
    assert all(r.status_code == 200 for r in results)
    by_question = {q: r.json() for q, r in zip(questions, results, strict=True)}
    assert by_question["课后服务归哪个科室管?"]["citations"][0]["task"] == 12
    assert by_question["天气如何"]["found"] is False


def test_errors_over_http(live_server):
    r = httpx.post(f"{live_server}/ask", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = httpx.post(f"{live_server}/ask", content=b"x" * 70000, headers={"content-type": "application/json"})
    assert r.status_code == 413
