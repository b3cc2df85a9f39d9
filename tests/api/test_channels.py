"""Every channel asks the one answering service and gets the same answer: the same questions — lookups, who,
facts, refusals and a conversation of follow-ups — through ``/ask``, ``/ask/stream``, ``/v1/chat/completions``
(streaming and not), WeChat, WeCom, the CLI and ``planqa eval`` give the same text, ``found``, intent and cited
tasks. Channels only format: WeChat's reply is ``replies.compose`` of the same answer.

Also: the question-length setting takes effect on every route (``PLANQA_MAX_QUESTION_CHARS=800``).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api import cli
from api.wechat import replies
from api.wechat.routes import get_answerer
from config.settings import Settings
from eval.run import planqa_system
from rag.service import AnsweringService, Channel, Reply
from tests.api.test_chat_routes import events
from tests.api.wechat_peer import Platform, inbound, wechat_settings

STANDALONE = [
    "第12项任务是什么",
    "第四部分讲什么",
    "基教科负责哪些任务?",
    "谁负责近视防控?",
    "大班额比例控制在多少?",
    "明天天气怎么样?",
    "第18项任务是什么",
    "萍乡市教育局局长是谁?",
]
# 职业教育: one task is about it (14), two more say it (17, 27), so "还有哪些?" has further tasks to list.
CONVERSATION = ["谁负责劳动教育?", "第二个呢?", "这项任务的原文", "职业教育呢?", "还有哪些?"]


@dataclass(frozen=True)
class Seen:
    """What a channel's client sees of an answer."""

    text: str
    found: bool
    intent: str
    tasks: tuple[int, ...]


def _seen(reply: Reply) -> Seen:
    a = reply.answer
    return Seen(a.text, a.found, a.intent.value, tuple(c.task for c in a.citations))


class Channels:
    """One client per channel, on one app (WeChat and WeCom configured), recording the replies the WeChat
    routes got from the service."""

    def __init__(self, client: TestClient, service: AnsweringService, settings: Settings) -> None:
        self.client, self.service, self.settings = client, service, settings
        self.platform = Platform(client)
        self.wechat_replies: list[Reply] = []
        real = get_answerer(service)

        def recording(question: str, user: str, channel: Channel) -> Reply:
            reply = real(question, user, channel)
            self.wechat_replies.append(reply)
            return reply

        client.app.dependency_overrides[get_answerer] = lambda: recording  # type: ignore[attr-defined]

    def ask(self, question: str, conversation: str | None = None) -> Seen:
        body = self.client.post("/ask", json={"question": question, "conversation_id": conversation}).json()
        return Seen(body["answer"], body["found"], body["intent"], tuple(c["task"] for c in body["citations"]))

    def stream(self, question: str, conversation: str | None = None) -> Seen:
        r = self.client.post("/ask/stream", json={"question": question, "conversation_id": conversation})
        evs = events(r.text)
        meta, done = evs[0][1], evs[-1][1]
        assert isinstance(meta, dict) and isinstance(done, dict) and evs[-1][0] == "done"
        text = "".join(d["text"] for n, d in evs if n == "delta")  # type: ignore[index]
        assert text == done["answer"]
        return Seen(text, meta["found"], meta["intent"], tuple(c["task"] for c in meta["citations"]))

    def chat(self, history: list[str], stream: bool = False) -> Seen:
        messages = [{"role": "user", "content": q} for q in history]
        r = self.client.post("/v1/chat/completions", json={"messages": messages, "stream": stream})
        if not stream:
            body = r.json()
            info, text = body["planqa"], body["choices"][0]["message"]["content"]
            return Seen(text, info["found"], info["intent"], tuple(c["task"] for c in body["citations"]))
        chunks = [d for _, d in events(r.text)[:-1]]
        first = chunks[0]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        cited = tuple(c["task"] for c in first["citations"])
        return Seen(text, first["planqa"]["found"], first["planqa"]["intent"], cited)

    def wechat(self, user: str, question: str, wecom: bool = False) -> Seen:
        xml = inbound(user, Content=question)
        if wecom:
            content = self.platform.open_reply(self.platform.post_wecom(xml), self.platform.work).content
        else:
            content = self.platform.ask(user, question)
        reply = self.wechat_replies[-1]
        # WeChat only formats: the message is the composed answer (cut to one message when long).
        assert content == replies.split(replies.compose(reply.answer, self.service.plan))[0]
        return _seen(reply)


@pytest.fixture(scope="module")
def channels(index_dir, plan_index) -> Channels:  # type: ignore[no-untyped-def]
    from api.main import create_app
    from config.wiring import build_service

    settings = wechat_settings(index_dir, rate_limit_per_ip=0)
    service = build_service(settings, plan_index)
    client = TestClient(create_app(settings, service=service))
    client.__enter__()
    yield Channels(client, service, settings)
    client.__exit__(None, None, None)


def via_cli(question: str, index_dir, monkeypatch) -> Seen:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("PLANQA_REBUILD_INDEX", "false")
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["ask", "--json", question]) == 0
    body = json.loads(out.getvalue())
    return Seen(body["answer"], body["found"], body["intent"], tuple(c["task"] for c in body["citations"]))


@pytest.mark.parametrize("question", STANDALONE)
def test_every_channel_gives_the_same_answer(channels: Channels, question: str, index_dir, monkeypatch, settings):  # type: ignore[no-untyped-def]
    expected = channels.ask(question)
    assert expected.text
    seen: dict[str, Seen] = {
        "/ask/stream": channels.stream(question),
        "/v1/chat/completions": channels.chat([question]),
        "/v1/chat/completions (stream)": channels.chat([question], stream=True),
        "wechat": channels.wechat(f"o{uuid.uuid4().hex[:20]}", question),
        "wecom": channels.wechat(f"u{uuid.uuid4().hex[:20]}", question, wecom=True),
        "cli": via_cli(question, index_dir, monkeypatch),
    }
    prediction = planqa_system(settings, channels.service.index).ask(question)
    refs = tuple(int(t) for t in prediction.tasks)  # eval scores by ref: the number, in a continuous plan
    seen["eval"] = Seen(prediction.text, prediction.found, prediction.intent, refs)
    for channel, got in seen.items():
        assert got == expected, channel


def test_every_channel_follows_the_same_conversation(channels: Channels) -> None:
    web, stream, wechat, wecom = (f"c-{uuid.uuid4().hex[:12]}" for _ in range(4))
    for i, question in enumerate(CONVERSATION):
        expected = channels.ask(question, web)
        assert channels.stream(question, stream) == expected, question
        assert channels.chat(CONVERSATION[: i + 1]) == expected, question
        assert channels.wechat(wechat, question) == expected, question
        assert channels.wechat(wecom, question, wecom=True) == expected, question
    assert expected.found  # the conversation ended on an answer, not on a refusal


# ---- the question-length setting, on every route ------------------------------------------------------


@pytest.fixture(scope="module")
def long_questions(index_dir, plan_index) -> Callable[[str], TestClient]:  # type: ignore[no-untyped-def]
    from api.main import create_app
    from config.wiring import build_service

    settings = wechat_settings(index_dir, rate_limit_per_ip=0, max_question_chars=800)
    client = TestClient(create_app(settings, service=build_service(settings, plan_index)))
    client.__enter__()
    yield client
    client.__exit__(None, None, None)


def test_a_raised_question_limit_applies_on_every_route(long_questions: TestClient) -> None:
    c = long_questions
    ok, too_long = "近视防控" * 200, "近视防控" * 200 + "吗"
    assert len(ok) == 800
    for question, status in ((ok, 200), (too_long, 422)):
        assert c.post("/ask", json={"question": question}).status_code == status
        assert c.post("/ask/stream", json={"question": question}).status_code == status
        assert c.get("/search", params={"q": question}).status_code == status
        chat = {"messages": [{"role": "user", "content": question}]}
        assert c.post("/v1/chat/completions", json=chat).status_code == status
    body = c.post("/ask", json={"question": too_long}).json()
    assert "801字" in body["error"]["message"] and "800" in body["error"]["message"]
    platform = Platform(c)
    assert "过长" not in platform.ask("o-long-1", ok)
    assert "问题过长" in platform.ask("o-long-2", too_long)
    assert 'maxlength="800"' in c.get("/").text
