"""Unicode edge cases over HTTP: the 500-character limit counts characters (not UTF-8 or UTF-16 units),
full-width digits, emoji, invisible characters and traditional characters reach the same answers, and a lone
surrogate (valid JSON, no character) is refused or ignored, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from rag.limits import MAX_QUESTION_CHARS


def ask(client: TestClient, question: str, ascii_json: bool = False) -> tuple[int, dict]:  # type: ignore[type-arg]
    body = json.dumps({"question": question}, ensure_ascii=ascii_json).encode("utf-8", "surrogatepass")
    r = client.post("/ask", content=body, headers={"content-type": "application/json"})
    return r.status_code, r.json()


@pytest.mark.parametrize("char", ["问", "😀", "a", "𠀀"], ids=["cjk", "emoji", "ascii", "cjk-ext-b"])
@pytest.mark.parametrize("ascii_json", [False, True], ids=["utf8", "escaped"])
def test_limit_is_500_characters_of_any_width(client: TestClient, char: str, ascii_json: bool) -> None:
    status, _ = ask(client, char * MAX_QUESTION_CHARS, ascii_json)
    assert status == 200
    status, body = ask(client, char * (MAX_QUESTION_CHARS + 1), ascii_json)
    assert status == 422 and body["error"]["request_id"]
    assert client.get("/search", params={"q": char * MAX_QUESTION_CHARS}).status_code == 200
    assert client.get("/search", params={"q": char * (MAX_QUESTION_CHARS + 1)}).status_code == 422


def test_variants_reach_the_same_task(client: TestClient) -> None:
    for question in [
        "第１２项任务是什么",
        "第１２項任務是什麼",
        "\ufeff第12项任务是什么",
        "第\u200b12项\u200d任务是什么🤔",
    ]:
        status, body = ask(client, question)
        assert status == 200 and body["intent"] == "task" and body["citations"][0]["task"] == 12, question
    for question in [
        "誰負責近視防控？",
        "谁負责近視防控?",
        "🙏谁负责近视防控👀",
        "谁\u2060负责\ufe0f近视防控\u200b？",
    ]:
        status, body = ask(client, question)
        assert status == 200 and body["found"] and body["citations"][0]["task"] == 8, question


def test_unit_names_in_traditional_and_full_width_forms(client: TestClient) -> None:
    plain = client.get("/units/基教科/tasks").json()
    for name in ["基教科\u200b", "\ufeff基教科", "基礎教育科", "基础教育科"]:
        r = client.get(f"/units/{name}/tasks")
        assert r.status_code == 200 and r.json()["unit"] == plain["unit"], name


def test_lone_surrogates_are_never_a_server_error(client: TestClient) -> None:
    for raw in [
        '{"question": "\\ud800"}',
        '{"question": "\\udc00\\u8c01\\u8d1f\\u8d23\\u8fd1\\u89c6\\u9632\\u63a7"}',
    ]:
        for path in ("/ask", "/ask/stream"):
            r = client.post(path, content=raw, headers={"content-type": "application/json"})
            assert r.status_code == 422, (path, raw, r.text)
    for content in ["\\ud800", "\\ud800\\u8c01\\u8d1f\\u8d23\\u8fd1\\u89c6\\u9632\\u63a7"]:
        raw = '{"model": "planqa", "messages": [{"role": "user", "content": "' + content + '"}]}'
        r = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (200, 422), r.text
        if r.status_code == 200:  # the surrogate is dropped: the rest is the question
            assert r.json()["citations"][0]["task"] == 8
