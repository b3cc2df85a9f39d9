"""The official ``openai`` Python client against a real uvicorn server on loopback."""

from __future__ import annotations

import re

import openai
import pytest

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oai(live_server):
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0, timeout=30)


def test_models_list(oai):
    assert [m.id for m in oai.models.list()] == ["planqa", "planqa:pingxiang-edu-2021"]


def test_completion_with_citations(oai):
    done = oai.chat.completions.create(model="planqa", messages=[{"role": "user", "content": "谁负责近视防控?"}])
    text = done.choices[0].message.content
    extra = done.model_extra
    assert extra["planqa"]["found"] is True
    cited = [c["task"] for c in extra["citations"]]
    assert cited and f"【第{cited[0]}项】" in text
    assert extra["citations"][0]["lead_unit"] in text


def test_streaming_matches_non_streaming(oai):
    messages = [{"role": "user", "content": "课后服务归哪个科室管?"}]
    whole = oai.chat.completions.create(model="planqa", messages=messages).choices[0].message.content
    stream = oai.chat.completions.create(model="planqa", messages=messages, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # it really streams
    assert chunks[0].model_extra["citations"][0]["task"] == int(re.search(r"【第(\d+)项】", text).group(1))
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_follow_up_through_message_history(oai):
    first = oai.chat.completions.create(model="planqa", messages=[{"role": "user", "content": "谁负责劳动教育?"}])
    cited = [c["task"] for c in first.model_extra["citations"]]  # tasks 8 and 7 both say 劳动教育
    second = oai.chat.completions.create(
        model="planqa",
        messages=[
            {"role": "user", "content": "谁负责劳动教育?"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "第二个呢?"},
        ],
    )
    assert second.model_extra["citations"][0]["task"] == cited[1]


def test_errors_reach_the_client_as_openai_errors(oai):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oai.chat.completions.create(model="planqa", messages=[{"role": "user", "content": "   "}])
    assert "empty" in str(caught.value)


def test_api_key_required_when_configured(index_dir, plan_index):
    proc, url = start_server(
        {
            "PLANQA_INDEX_DIR": str(index_dir),
            "PLANQA_REBUILD_INDEX": "false",
            "PLANQA_API_KEYS": "s3cret,other",
        }
    )
    try:
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="guess", max_retries=0, timeout=30)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        right = openai.OpenAI(base_url=f"{url}/v1", api_key="other", max_retries=0, timeout=30)
        assert [m.id for m in right.models.list()] == ["planqa", "planqa:pingxiang-edu-2021"]
        reply = right.chat.completions.create(
            model="planqa", messages=[{"role": "user", "content": "第12项任务是什么"}]
        )
        assert "【第12项】" in reply.choices[0].message.content
    finally:
        stop_server(proc)
