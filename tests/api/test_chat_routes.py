"""/ask with a conversation, /ask/stream, /v1/* and the page, through the ASGI app (TestClient)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.settings import Settings
from config.wiring import build_service
from index.errors import PlanQAError
from rag.generator import Generator, LLMConfig
from rag.service import AnsweringService

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))  # the page's ES modules; main.js imports the others


def events(body: str) -> list[tuple[str, object]]:
    out = []
    for block in body.strip().split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        payload = "\n".join(data)
        out.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return out


@pytest.fixture()
def fresh_client(settings, app_client):
    """An app of its own, for tests that change its state or settings."""

    def make(service: AnsweringService | None = None, **overrides):
        c = app_client(Settings(**{**settings.model_dump(), **overrides}), service=service)
        return c.app, c

    return make


# ---- /ask with conversation_id -----------------------------------------------------------------------


def test_ask_follow_up_in_conversation(client, plan):
    first = client.post("/ask", json={"question": "谁负责近视防控?", "conversation_id": "t-ask-1"}).json()
    second = client.post("/ask", json={"question": "那它的牵头单位是谁?", "conversation_id": "t-ask-1"}).json()
    task = plan.task(first["citations"][0]["task"])
    assert second["found"] and second["follow_up"] == "lead" and second["conversation_id"] == "t-ask-1"
    assert second["citations"][0]["task"] == task.number and task.lead_unit in second["answer"]
    assert first["highlight"] and all(w in "谁负责近视防控" for w in first["highlight"])


def test_ask_topic_follow_up_reports_how_it_was_read(client):
    client.post("/ask", json={"question": "谁负责近视防控?", "conversation_id": "t-ask-2"})
    body = client.post("/ask", json={"question": "课后服务呢?", "conversation_id": "t-ask-2"}).json()
    assert body["resolved_question"] == "谁负责课后服务?" and body["follow_up"] == "topic"


def test_ask_without_conversation_is_unchanged(client):
    body = client.post("/ask", json={"question": "那它的牵头单位是谁?"}).json()
    assert body["found"] is False and body["conversation_id"] is None


@pytest.mark.parametrize("bad", ["", "with space", "x" * 129, "中文"])
def test_ask_refuses_bad_conversation_ids(client, bad):
    r = client.post("/ask", json={"question": "谁负责近视防控?", "conversation_id": bad})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


# ---- /ask/stream ------------------------------------------------------------------------------------


def test_stream_sends_meta_deltas_done(client):
    r = client.post("/ask/stream", json={"question": "谁负责劳动教育?", "conversation_id": "t-stream-1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-request-id"]
    evs = events(r.text)
    names = [n for n, _ in evs]
    assert names[0] == "meta" and names[-1] == "done" and names.count("delta") >= 2
    meta, done = evs[0][1], evs[-1][1]
    assert meta["found"] and meta["citations"] and "answer" not in meta
    text = "".join(d["text"] for n, d in evs if n == "delta")
    assert text == done["answer"]
    assert f"【第{meta['citations'][0]['task']}项】" in text
    plain = client.post("/ask", json={"question": "谁负责劳动教育?"}).json()["answer"]
    assert text == plain  # one service, one text: the stream and /ask say the same

    follow = events(client.post("/ask/stream", json={"question": "第二个呢?", "conversation_id": "t-stream-1"}).text)
    assert follow[0][1]["citations"][0]["task"] == meta["citations"][1]["task"]


def test_stream_not_covered_is_an_answer_not_an_error(client):
    r = client.post("/ask/stream", json={"question": "明天天气怎么样?"})
    evs = events(r.text)
    assert r.status_code == 200 and evs[0][1]["found"] is False and evs[0][1]["intent"] == "out_of_scope"
    assert "没有" in evs[-1][1]["answer"]


def test_stream_invalid_question_is_a_json_error(client):
    r = client.post("/ask/stream", json={"question": "   "})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_question"


class FailingGenerator(Generator):
    """An LLM step that breaks after its first sentence with an error nobody planned for."""

    def stream(self, plan, extractive, budget_s, present=None):  # type: ignore[no-untyped-def]
        def pieces():  # type: ignore[no-untyped-def]
            yield "开头。"
            raise PlanQAError("生成失败。Generation failed.")

        return pieces()


def test_stream_failure_midway_becomes_an_error_event(fresh_client, settings, plan_index):
    failing = FailingGenerator(LLMConfig(base_url="http://127.0.0.1:9/v1", model="none"))
    service = AnsweringService(plan_index, build_service(settings, plan_index).config, generator=failing)
    _, c = fresh_client(service=service)
    evs = events(c.post("/ask/stream", json={"question": "谁负责近视防控?"}).text)
    assert [n for n, _ in evs] == ["meta", "delta", "error"]
    assert "Generation failed" in evs[-1][1]["error"]["message"]
    body = {"messages": [{"role": "user", "content": "谁负责近视防控?"}], "stream": True}
    chunks = events(c.post("/v1/chat/completions", json=body).text)
    assert "error" in chunks[-1][1]


# ---- /v1 --------------------------------------------------------------------------------------------


def test_chat_completion_shape_and_citations(client):
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "planqa",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": [{"type": "text", "text": "谁负责近视防控?"}]},
            ],
            "temperature": 0.7,
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert {f"【第{c['task']}项】" for c in body["citations"]} <= set(re.findall(r"【第\d+项】", content))
    assert body["planqa"]["intent"] == "who" and body["usage"]["completion_tokens"] == len(content)
    assert body["planqa"]["answer_mode"] == "extractive"  # no LLM configured


def test_chat_history_resolves_follow_ups(client):
    first = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "基教科负责哪些任务?"}]})
    listed = [c["task"] for c in first.json()["citations"]]
    r = client.post(
        "/v1/chat/completions",
        json={
            "messages": [
                {"role": "user", "content": "基教科负责哪些任务?"},
                {"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]},
                {"role": "user", "content": "第二个呢?"},
            ]
        },
    )
    assert r.json()["citations"][0]["task"] == listed[1]
    assert r.json()["planqa"]["follow_up"] == "item"


def test_chat_history_replay_is_capped_and_logged(fresh_client, settings, plan_index, caplog):
    """Each replayed user message costs an answer: only the last PLANQA_MAX_CONVERSATION_TURNS are replayed
    (twenty distinct earlier questions cost four answers, not twenty), and the log line says how many."""
    service = build_service(settings, plan_index)
    composed: list[str] = []
    compose = service.compose

    def counted(question: str, top_k: int):  # type: ignore[no-untyped-def]
        composed.append(question)
        return compose(question, top_k)

    service.compose = counted  # type: ignore[method-assign]
    _, c = fresh_client(service=service)
    history = [f"{t.title}有哪些要求" for t in service.plan.tasks[:20]]
    messages = [{"role": "user", "content": q} for q in [*history, "谁负责近视防控?"]]
    caplog.set_level("INFO", logger="planqa.access")
    r = c.post("/v1/chat/completions", json={"messages": messages}, headers={"X-Request-ID": "replay-cap"})
    assert r.status_code == 200 and r.json()["citations"][0]["task"] == 8
    cap = settings.max_conversation_turns
    assert cap == 4 and composed == [*history[-cap:], "谁负责近视防控?"]
    (line,) = [x for x in caplog.records if getattr(x, "request_id", "") == "replay-cap"]
    assert line.replayed == cap  # type: ignore[attr-defined]


def test_chat_last_message_must_be_the_user(client):
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "你好"}]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_question"
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_chat_stream_chunks(client):
    r = client.post(
        "/v1/chat/completions",
        json={
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "谁负责近视防控?"}],
        },
    )
    evs = events(r.text)
    assert evs[-1][1] == "[DONE]"
    chunks = [d for _, d in evs[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant" and chunks[0]["citations"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert "【第8项】" in text


def test_models(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["planqa", "planqa:pingxiang-edu-2021"]


def test_api_keys_guard_v1_but_not_the_page(fresh_client):
    _, c = fresh_client(api_keys="k-one, k-two")
    ask = {"messages": [{"role": "user", "content": "谁负责近视防控?"}]}
    assert c.get("/v1/models").status_code == 401
    r = c.post("/v1/chat/completions", json=ask, headers={"Authorization": "Bearer k-on"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "PLANQA_API_KEYS" in r.json()["error"]["message"]
    assert c.post("/v1/chat/completions", json=ask, headers={"Authorization": "Basic k-one"}).status_code == 401
    assert c.post("/v1/chat/completions", json=ask, headers={"Authorization": "Bearer k-two"}).status_code == 200
    assert c.get("/v1/models", headers={"Authorization": "bearer k-one"}).status_code == 200
    # The page itself loads without a key (it then asks the user for one: see the browser tests).
    assert c.get("/").status_code == 200 and c.get("/static/main.js").status_code == 200
    assert c.post("/ask/stream", json={"question": "谁负责近视防控?"}).status_code == 401


# ---- the page ---------------------------------------------------------------------------------------


def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert '<html lang="zh-CN">' in html and 'for="question"' in html and 'for="unit-filter"' in html
    assert '<script type="module" src="/static/main.js"></script>' in html
    for name in ["main.js", "app.css", "icon.svg"]:
        assert f"/static/{name}" in html
        assert client.get(f"/static/{name}").status_code == 200
    # Nothing from elsewhere: no absolute URLs in what the page loads.
    for name in ["index.html", "app.css", *MODULES]:
        text = client.get("/" if name == "index.html" else f"/static/{name}").text
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_page_modules_import_each_other_by_flat_relative_names(client):
    """Every module is served as JavaScript, and imports only ./name.js files of the same folder."""
    assert "main.js" in MODULES
    imported = set()
    for name in MODULES:
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), name
        assert r.text.startswith("// "), f"{name}: a one-line comment says what the module does"
        for target in re.findall(r'^import .* from "([^"]+)";$', r.text, flags=re.M):
            assert re.fullmatch(r"\./[a-z]+\.js", target) and target[2:] in MODULES, f"{name} imports {target}"
            imported.add(target[2:])
    assert imported | {"main.js"} == set(MODULES), "a module nothing imports"


@pytest.mark.parametrize("path", ["/static/..%2Fchat.py", "/static/.hidden", "/static/missing.js", "/static/x.py"])
def test_static_refuses_anything_else(client, path):
    assert client.get(path).status_code == 404
