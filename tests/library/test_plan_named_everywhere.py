"""Every answer and every citation names its plan, on every channel, over a library of three plans (Pingxiang 2021,
Qingshan 2022 and 2023; today = 2023): ``/ask``, ``/ask/stream`` (its ``meta`` and ``done`` events), ``/v1`` with
``planqa`` and ``planqa:<plan id>`` (streaming or not), WeChat and WeCom (the message starts "据《…》："). Plans are
chosen each way a user can: by the question's words, by the caller (``plan``, the model name), or by default; a
refusal names the plan that does not say it, and a comparison names both. The page is checked in a real browser
by ``tests/api/test_page_plans_browser.py`` (each turn's "出自《…》" and each card's plan)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.store import PlanIndex
from rag.library import LibraryService
from rag.service import Channel
from tests.api.test_chat_routes import events
from tests.api.wechat_peer import Platform, inbound, wechat_settings
from tests.plans import PINGXIANG, QS2022, QS2023, three_plans

HEAD = re.compile(r"^据《(?P<title>[^》]+)》：")

# (question, the caller's plan or None, the plan that must answer)
ASKED = [
    ("青山2022年的计划里，近视防控谁负责？", None, QS2022),
    ("萍乡的计划里谁负责近视防控？", None, PINGXIANG),
    ("去年的工作要点里，心理健康教育谁牵头？", None, QS2022),
    ("谁负责近视防控？", None, QS2023),  # names none: the default, the newest of the issuer with the most plans
    ("谁负责近视防控？", PINGXIANG, PINGXIANG),  # the caller's plan
    ("第12项任务是什么", QS2022, QS2022),
    ("基教科负责哪些任务？", PINGXIANG, PINGXIANG),
    ("青山2023年的计划里，马拉松报名费是多少？", None, QS2023),  # refused: still names the plan that does not say it
]


@dataclass(frozen=True)
class Seen:
    text: str
    plan: str | None  # the reply's plan id (None where the channel has no structured field)
    citation_plans: tuple[str | None, ...]
    citation_titles: tuple[str | None, ...]


@pytest.fixture(scope="module")
def library(plan_index: PlanIndex, fixture_index: Callable[[str], PlanIndex]) -> LibraryService:
    return three_plans(plan_index, fixture_index)


@pytest.fixture(scope="module")
def client(library: LibraryService, index_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(wechat_settings(index_dir, rate_limit_per_ip=0), service=library)) as c:
        yield c


def _cited(citations: list[dict[str, Any]]) -> tuple[tuple[str | None, ...], tuple[str | None, ...]]:
    return tuple(c.get("plan") for c in citations), tuple(c.get("plan_title") for c in citations)


def via_ask(client: TestClient, question: str, plan: str | None) -> Seen:
    body = client.post("/ask", json={"question": question, "plan": plan}).json()
    return Seen(body["answer"], body["plan"]["id"], *_cited(body["citations"]))


def via_stream(client: TestClient, question: str, plan: str | None) -> Seen:
    evs = events(client.post("/ask/stream", json={"question": question, "plan": plan}).text)
    (first, meta), (last, done) = evs[0], evs[-1]
    assert (first, last) == ("meta", "done") and isinstance(meta, dict) and isinstance(done, dict)
    text = "".join(d["text"] for n, d in evs if n == "delta")  # type: ignore[index]
    assert text == done["answer"]
    return Seen(text, meta["plan"]["id"], *_cited(meta["citations"]))


def via_v1(client: TestClient, question: str, plan: str | None, stream: bool = False) -> Seen:
    model = f"planqa:{plan}" if plan else "planqa"
    ask = {"model": model, "messages": [{"role": "user", "content": question}], "stream": stream}
    r = client.post("/v1/chat/completions", json=ask)
    assert r.status_code == 200, r.text
    if not stream:
        body = r.json()
        return Seen(body["choices"][0]["message"]["content"], None, *_cited(body["citations"]))
    chunks = [d for _, d in events(r.text)[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])  # type: ignore[index]
    return Seen(text, None, *_cited(chunks[0]["citations"]))  # type: ignore[index]


def via_wechat(client: TestClient, question: str, user: str, wecom: bool = False) -> Seen:
    platform = Platform(client)
    if wecom:
        text = platform.open_reply(platform.post_wecom(inbound(user, Content=question)), platform.work).content
    else:
        text = platform.ask(user, question)
    return Seen(text, None, (), ())


def _title(library: LibraryService, plan_id: str) -> str:
    return library.entry(plan_id).meta.title


def _names(seen: Seen, library: LibraryService, plan_id: str) -> None:
    title = _title(library, plan_id)
    head = HEAD.match(seen.text)
    # "据《title》：…", or a refusal that names the plan itself ("抱歉，《title》中没有写明…"): in its first line.
    assert (head and head.group("title") == title) or f"《{title}》" in seen.text.split("\n")[0], seen.text
    assert not head or head.group("title") == title, seen.text
    assert seen.plan in (None, plan_id)
    assert set(seen.citation_plans) <= {plan_id} and set(seen.citation_titles) <= {title}


@pytest.mark.parametrize(("question", "plan", "expected"), ASKED)
def test_every_channel_names_the_plan_on_the_answer_and_each_citation(  # type: ignore[no-untyped-def]
    client: TestClient, library: LibraryService, question: str, plan: str | None, expected: str
) -> None:
    seen = {
        "/ask": via_ask(client, question, plan),
        "/ask/stream": via_stream(client, question, plan),
        "/v1": via_v1(client, question, plan),
        "/v1 stream": via_v1(client, question, plan, stream=True),
    }
    for channel, s in seen.items():
        assert s.text == seen["/ask"].text, channel  # one answer, formatted per channel
        _names(s, library, expected)
    if seen["/ask"].text and "抱歉" not in seen["/ask"].text:
        assert seen["/ask"].citation_plans, question  # an answer cites, and each citation says its plan
    if plan is None:  # WeChat and WeCom have no caller's plan: only the question or the user's own choice
        user = f"named-{abs(hash((question, expected))) % 10**8}"
        _names(via_wechat(client, question, user), library, expected)
        _names(via_wechat(client, question, user, wecom=True), library, expected)


def test_a_user_who_switched_plans_gets_that_plan_named_on_wechat(client: TestClient, library: LibraryService) -> None:
    platform = Platform(client)
    titles = [m.title for m in library.plans]
    reply = platform.ask("named-switch", f"切换 {titles.index(_title(library, PINGXIANG)) + 1}")
    assert _title(library, PINGXIANG) in reply
    _names(via_wechat(client, "谁负责近视防控？", "named-switch"), library, PINGXIANG)


def test_a_comparison_names_both_plans_on_every_channel(client: TestClient, library: LibraryService) -> None:
    question = "青山的近视防控今年和去年比有什么变化？"
    both = {QS2022, QS2023}
    for s in (via_ask(client, question, None), via_stream(client, question, None), via_v1(client, question, None)):
        assert set(s.citation_plans) == both
        assert set(s.citation_titles) == {_title(library, p) for p in both}
        assert all(_title(library, p) in s.text for p in both), s.text
    text = via_wechat(client, question, "named-compare").text
    assert all(_title(library, p) in text for p in both), text


def test_a_repeated_question_is_the_same_reply_until_the_plans_change(
    plan_index: PlanIndex, fixture_index: Callable[[str], PlanIndex]
) -> None:
    """The library keeps the reply to a standalone question asked again word for word (routing reads only the
    question and the plans), per plan asked for; a new set of plans starts afresh."""
    library = three_plans(plan_index, fixture_index)
    question = "青山2022年的计划里，近视防控谁负责？"
    first = library.ask_now(question, channel=Channel.WEB)
    if first is None:  # its query vector was not computed yet: ask_now gives up, ask answers
        first = library.ask(question, channel=Channel.WEB)
        assert library.ask_now(question, channel=Channel.WEB) == first
    assert library.ask_now(question, channel=Channel.WEB) is library.ask_now(question, channel=Channel.WEB)
    assert first.plan is not None and first.plan.id == QS2022
    other = library.ask_now(question, channel=Channel.WEB, plan=PINGXIANG) or library.ask(
        question, channel=Channel.WEB, plan=PINGXIANG
    )
    assert other.plan is not None and other.plan.id == PINGXIANG  # the caller's plan is part of the key
    library.uninstall(QS2022)
    again = library.ask_now(question, channel=Channel.WEB) or library.ask(question, channel=Channel.WEB)
    assert again.plan is not None and again.plan.id != QS2022
