"""Operators' side: API keys, rate limits, metrics and structured logs."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from api.logs import AccessLog, JsonFormatter
from api.security import TokenBuckets
from config.settings import Settings

ASK = {"question": "谁负责近视防控?"}


@pytest.fixture()
def started(app_client, settings: Settings):  # type: ignore[no-untyped-def]
    """A started app of its own with these settings changed."""

    def make(**overrides: object) -> TestClient:
        return app_client(settings.model_copy(update=overrides))

    return make


def test_api_keys_protect_all_but_the_exempt_routes(started):
    c = started(api_keys="k-one, k-two")
    for path in ("/tasks", "/units", "/metrics", "/openapi.json", "/v1/models"):
        r = c.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert "API密钥" in r.json()["error"]["message"] and "PLANQA_API_KEYS" in r.json()["error"]["message"]
    assert c.post("/ask", json=ASK).status_code == 401
    assert c.post("/ask", json=ASK, headers={"Authorization": "Bearer k-three"}).status_code == 401
    assert c.post("/ask", json=ASK, headers={"Authorization": "Basic k-one"}).status_code == 401
    assert c.post("/ask", json=ASK, headers={"Authorization": "Bearer k-two"}).status_code == 200
    for path in ("/health", "/ready", "/", "/static/main.js"):
        assert c.get(path).status_code == 200, path
    assert c.get("/wechat").status_code == 404  # not configured: its own rules, not the key's


def test_rate_limit_per_client_address(started):
    c = started(rate_limit_per_ip=3)
    statuses = [c.get("/tasks/8").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = c.get("/tasks/8")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited" and "请求过于频繁" in r.json()["error"]["message"]
    assert c.get("/health").status_code == 200  # probes are never limited


def test_rate_limit_per_key(started):
    c = started(api_keys="a,b", rate_limit_per_key=2, rate_limit_per_ip=0)
    a = {"Authorization": "Bearer a"}
    assert [c.get("/units", headers=a).status_code for _ in range(3)] == [200, 200, 429]
    assert c.get("/units", headers={"Authorization": "Bearer b"}).status_code == 200


def test_token_bucket_refills_over_time():
    buckets = TokenBuckets(60)  # 60 a minute: one a second, bursting to 60
    assert all(buckets.take("x", now=0.0) == 0 for _ in range(60))
    assert buckets.take("x", now=0.0) == pytest.approx(1.0)
    assert buckets.take("x", now=1.5) == 0
    assert buckets.take("y", now=0.0) == 0  # buckets are per name


def test_metrics_count_requests_answers_and_cache(client):
    client.post("/ask", json={"question": "谁负责校园足球工作?"})
    client.post("/ask", json={"question": "谁负责校园足球工作?"})
    text = client.get("/metrics").text
    assert 'planqa_requests_total{method="POST",route="/ask",status="200"}' in text
    assert 'planqa_answers_total{found="true",intent="who"}' in text
    assert 'planqa_answer_cache_total{result="hit"}' in text
    assert "planqa_request_seconds_bucket" in text


def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "planqa.access" and r.getMessage() == "request"]


def test_one_structured_line_per_request_without_the_question(client, caplog):
    caplog.set_level(logging.INFO, logger="planqa.access")
    r = client.post("/ask", json={"question": "课后服务归哪个科室管?"}, headers={"X-Request-ID": "req-42"})
    (record,) = [x for x in _request_records(caplog) if getattr(x, "request_id", "") == "req-42"]
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/ask" and line["status"] == 200 and line["latency_ms"] > 0
    assert line["intent"] == "who" and line["found"] is True and line["answer_mode"] == "extractive"
    assert "question" not in line and "课后服务" not in json.dumps(line, ensure_ascii=False)
    assert r.headers["x-request-id"] == "req-42"


def test_questions_logged_only_when_asked(started, caplog):
    caplog.set_level(logging.INFO, logger="planqa.access")
    c = started(log_questions=True)
    c.post("/ask", json={"question": "课后服务归哪个科室管?"}, headers={"X-Request-ID": "req-43"})
    (record,) = [x for x in _request_records(caplog) if getattr(x, "request_id", "") == "req-43"]
    assert record.question == "课后服务归哪个科室管?"


def test_access_lines_follow_the_log_level(client, caplog):
    caplog.set_level(logging.WARNING, logger="planqa.access")  # PLANQA_LOG_LEVEL=warning
    client.get("/tasks/8", headers={"X-Request-ID": "req-44"})
    assert not [x for x in _request_records(caplog) if getattr(x, "request_id", "") == "req-44"]


def test_the_line_written_straight_is_the_record_formatted():
    """Under ``planqa serve`` the access line skips logging (orjson, straight to stderr): it must read exactly
    as the JsonFormatter would have written the record, question dropped alike."""
    fields = {"request_id": "r-1", "method": "POST", "route": "/ask", "path": "/ask", "status": 200,
              "latency_ms": 1.25, "intent": "who", "found": True, "question": "谁负责近视防控?"}  # fmt: skip
    written: list[bytes] = []
    AccessLog(write=written.append).line(dict(fields))
    (data,) = written
    direct = json.loads(data)
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    record = logging.getLogger("planqa.access").makeRecord("planqa.access", logging.INFO, __file__, 1, "request",
                                                           (), None, extra=dict(fields))  # fmt: skip
    formatted = json.loads(JsonFormatter().format(record))
    formatted.pop("question")
    assert direct.keys() == formatted.keys() and {k: v for k, v in direct.items() if k != "time"} == {
        k: v for k, v in formatted.items() if k != "time"
    }
    AccessLog(log_questions=True, write=written.append).line(dict(fields))
    assert json.loads(written[-1])["question"] == "谁负责近视防控?"


def test_metrics_scrape_skips_a_worker_file_still_being_created(tmp_path, monkeypatch):
    """With several workers, a worker creates its file for a kind of metric as an empty file, then grows it; a
    scrape in between must not fail (it answered 500: prometheus-client read a header that was not there yet)."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    from api.metrics import render

    written = MmapedDict(str(tmp_path / "counter_101.db"))  # a worker that has counted one request
    key = mmap_key("planqa_requests_total", "planqa_requests_total", ["route"], ["/ask"], "HTTP requests")
    written.write_value(key, 3.0, 0.0)
    written.close()
    (tmp_path / "counter_102.db").touch()  # a worker between creating its file and growing it
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = render()[0].decode()
    assert 'planqa_requests_total{route="/ask"} 3.0' in text
