"""/ask with the optional LLM: off by default, on through PLANQA_LLM_*, never a 500 when the LLM fails."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from config.settings import Settings
from config.wiring import build_service
from index.store import PlanIndex
from tests.conftest import free_port, start_server, stop_server
from tests.llm_server import MODEL_NAME

QUESTION = "职业教育要达到什么目标?"


@pytest.fixture
def generate_log() -> Iterator[list[logging.LogRecord]]:
    """Records of ``planqa.generate``, captured directly (the app's JSON logging stops propagation)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("planqa.generate")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_answers_are_extractive_by_default(client: TestClient) -> None:
    body = client.post("/ask", json={"question": QUESTION}).json()
    assert body["answer_mode"] == "extractive" and body["answer_mode_reason"] is None


def test_half_an_llm_configuration_is_refused(index_dir: Path) -> None:
    with pytest.raises(ValueError, match="PLANQA_LLM_MODEL"):
        Settings(index_dir=index_dir, llm_base_url="http://127.0.0.1:9/v1")


def test_an_unreachable_llm_gives_the_extractive_answer_and_a_log_line(
    client: TestClient, plan_index: PlanIndex, index_dir: Path, generate_log: list[logging.LogRecord]
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = Settings(index_dir=index_dir, rebuild_index=False, llm_base_url=down, llm_model="any")
    with TestClient(create_app(settings, service=build_service(settings, plan_index))) as c:
        response = c.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert body["answer_mode"] == "llm_rejected" and body["answer_mode_reason"] == "llm_unavailable"
    assert body["answer"] == client.post("/ask", json={"question": QUESTION}).json()["answer"]
    warnings = [r for r in generate_log if r.levelno == logging.WARNING]
    assert warnings and down in warnings[0].getMessage() and "PLANQA_LLM_BASE_URL" in warnings[0].getMessage()


@pytest.mark.llm
def test_a_live_server_configured_by_environment_answers_with_the_llm(
    llm_server: str, index_dir: Path, plan_index: PlanIndex
) -> None:
    env = {
        "PLANQA_INDEX_DIR": str(index_dir),
        "PLANQA_REBUILD_INDEX": "false",
        "PLANQA_LLM_BASE_URL": llm_server,
        "PLANQA_LLM_MODEL": MODEL_NAME,
        "PLANQA_LLM_BUDGET_WEB_S": "120",  # generous: this test is about the wiring, not the speed
        "PLANQA_LLM_BUDGET_OPENAI_S": "120",
    }
    proc, url = start_server(env)
    try:
        fact = httpx.post(f"{url}/ask", json={"question": QUESTION}, timeout=150).json()
        assert fact["answer_mode"] == "llm", fact
        assert "【第14项】" in fact["answer"] and fact["citations"][0]["task"] == 14
        # Nothing found: no model call, the "not covered" answer as composed.
        weather = httpx.post(f"{url}/ask", json={"question": "明天天气怎么样?"}, timeout=150).json()
        assert weather["found"] is False and weather["answer_mode"] == "extractive"

        # /ask/stream: the structured who-answer first, then the model's checked sentences, mode in "done".
        events = sse_events(url, "/ask/stream", {"question": "谁负责近视防控?"})
        assert [e for e, _ in events][0] == "meta" and events[-1][0] == "done"
        deltas = [d["text"] for e, d in events if e == "delta"]
        done = events[-1][1]
        assert deltas[0].startswith("「近视防控」") and "体卫艺科（牵头）" in deltas[0]
        assert "".join(deltas) == done["answer"] and done["answer_mode"] in ("llm", "llm_rejected")
        if done["answer_mode"] == "llm":
            assert len(deltas) >= 2

        # /v1/chat/completions, streamed: content pieces, and the mode in the closing chunk.
        chunks = [
            d
            for _, d in sse_events(
                url,
                "/v1/chat/completions",
                {"model": "planqa", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
            )
        ]
        assert chunks[-1] == "[DONE]"
        content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1] if c["choices"])
        closing = next(c for c in chunks[:-1] if c["choices"] and c["choices"][0]["finish_reason"] == "stop")
        assert closing["planqa"]["answer_mode"] == "llm" and "【第14项】" in content
    finally:
        stop_server(proc)


def sse_events(url: str, path: str, body: dict[str, object]) -> list[tuple[str, object]]:
    """(event, data) pairs of a server-sent-event response; data parsed as JSON unless it is [DONE]."""
    events: list[tuple[str, object]] = []
    event = "message"
    with httpx.stream("POST", f"{url}{path}", json=body, timeout=150) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
                events.append((event, data if data == "[DONE]" else json.loads(data)))
                event = "message"
    return events
