"""WeChat over a library of plans, with wechatpy as WeChat's side: "切换计划" lists the plans, "切换 2" and
"切换到青山2022年" choose one, naming a plan in a question moves to it, and each user's plan is their own (and each
channel's: a WeChat user and a WeCom user of the same id are two conversations)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.store import PlanIndex
from rag.library import LibraryService
from rag.service import Channel
from tests.api.wechat_peer import Platform, inbound, wechat_settings
from tests.plans import PINGXIANG, QS2022, QS2023, three_plans

SWITCHED = re.compile(r"^已切换到《(?P<title>[^》]+)》，请提问。$")


@pytest.fixture()
def library(plan_index: PlanIndex, fixture_index: Callable[[str], PlanIndex]) -> LibraryService:
    """Pingxiang 2021 and Qingshan 2022 and 2023 (today = 2023), fresh sessions for each test."""
    return three_plans(plan_index, fixture_index)


@pytest.fixture()
def platform(library: LibraryService, index_dir: Path) -> Iterator[Platform]:
    with TestClient(create_app(wechat_settings(index_dir), service=library)) as client:
        yield Platform(client)


def _listed(text: str) -> list[tuple[str, bool]]:
    """The plans of a "切换计划" reply, in order: (title, is the current one)."""
    found = re.findall(r"^(\d+)\. 《([^》]+)》(（当前）)?$", text, re.M)
    assert [int(n) for n, _, _ in found] == list(range(1, len(found) + 1)), text
    return [(title, bool(current)) for _, title, current in found]


def _title(library: LibraryService, plan_id: str) -> str:
    return library.entry(plan_id).meta.title


def _answered_from(library: LibraryService, text: str) -> str:
    """The plan a WeChat answer names at its head ("据《…》：")."""
    m = re.match(r"^据《([^》]+)》：", text)
    assert m, text
    return next(p.id for p in library.plans if p.title == m.group(1))


def test_the_plan_list_numbers_every_plan_and_marks_the_current_one(platform: Platform, library) -> None:  # type: ignore[no-untyped-def]
    listed = _listed(platform.ask("t-list", "切换计划"))
    assert [title for title, _ in listed] == [p.title for p in library.plans]
    assert [title for title, current in listed if current] == [_title(library, library.default_plan)]
    assert "切换 序号" in platform.ask("t-list", "有哪些计划？")  # the other ways of asking for the list
    # Once a plan is chosen, the list marks it instead.
    platform.ask("t-list", "切换 1")
    listed = _listed(platform.ask("t-list", "切换计划"))
    assert [title for title, current in listed if current] == [library.plans[0].title]


@pytest.mark.parametrize("number", [1, 2, 3])
def test_switch_by_number_then_every_question_goes_to_that_plan(platform: Platform, library, number: int) -> None:  # type: ignore[no-untyped-def]
    user = f"t-number-{number}"
    chosen = library.plans[number - 1]
    m = SWITCHED.match(platform.ask(user, f"切换 {number}"))
    assert m and m.group("title") == chosen.title
    for question in ("谁负责近视防控？", "课后服务归哪个科室管？"):  # kept: not only for the next question
        text = platform.ask(user, question)
        assert _answered_from(library, text) == chosen.id
        expected = library.ask(question, channel=Channel.WEB, plan=chosen.id)
        if expected.answer.found:
            top = expected.answer.citations[0]
            assert top.label in text and (top.lead_unit or "") in text
    assert library.sessions.plan(f"wechat:{user}") == chosen.id


@pytest.mark.parametrize(
    ("command", "plan_id"),
    [("切换到青山2022年", QS2022), ("换成萍乡的计划", PINGXIANG), ("选择2023年青山", QS2023), ("切换为去年的", QS2022)],
)
def test_switch_by_naming_a_plan(platform: Platform, library, command: str, plan_id: str) -> None:  # type: ignore[no-untyped-def]
    user = "t-named"
    m = SWITCHED.match(platform.ask(user, command))
    assert m and m.group("title") == _title(library, plan_id)
    assert _answered_from(library, platform.ask(user, "谁负责近视防控？")) == plan_id


def test_naming_a_plan_in_a_question_moves_the_user_to_it(platform: Platform, library) -> None:  # type: ignore[no-untyped-def]
    user = "t-question"
    assert _answered_from(library, platform.ask(user, "萍乡的计划里谁负责近视防控？")) == PINGXIANG
    follow = platform.ask(user, "那它的牵头单位是谁？")  # a follow-up of that plan's answer
    assert _answered_from(library, follow) == PINGXIANG and "第8项" in follow and "体卫艺科" in follow
    assert _answered_from(library, platform.ask(user, "课后服务归哪个科室管？")) == PINGXIANG  # and it stays
    listed = _listed(platform.ask(user, "切换计划"))
    assert [title for title, current in listed if current] == [_title(library, PINGXIANG)]
    # "2023年呢？": the question before, of the plan it names; the user is on that plan now.
    moved = platform.ask(user, "2023年呢？")
    assert _answered_from(library, moved) == QS2023
    assert library.sessions.plan(f"wechat:{user}") == QS2023


@pytest.mark.parametrize("command", ["切换 0", "切换 4", "切换 99", "切换到火星2099年", "切换计划 abc"])
def test_an_unknown_choice_lists_the_plans_and_changes_nothing(platform: Platform, library, command: str) -> None:  # type: ignore[no-untyped-def]
    user = "t-unknown"
    platform.ask(user, "切换到萍乡")
    text = platform.ask(user, command)
    assert not SWITCHED.match(text)
    listed = _listed(text)
    assert len(listed) == len(library.plans)
    assert [title for title, current in listed if current] == [_title(library, PINGXIANG)]
    assert _answered_from(library, platform.ask(user, "谁负责近视防控？")) == PINGXIANG


def test_each_user_keeps_their_own_plan(platform: Platform, library) -> None:  # type: ignore[no-untyped-def]
    assert SWITCHED.match(platform.ask("t-alice", "切换到青山2022年"))
    assert SWITCHED.match(platform.ask("t-bob", "切换到萍乡"))
    for _ in range(2):  # interleaved: neither moves the other
        assert _answered_from(library, platform.ask("t-alice", "谁负责近视防控？")) == QS2022
        assert _answered_from(library, platform.ask("t-bob", "谁负责近视防控？")) == PINGXIANG
        assert _answered_from(library, platform.ask("t-carol", "谁负责近视防控？")) == library.default_plan
    # The same id on WeCom is another conversation: it starts on the default plan.
    r = platform.post_wecom(inbound("t-alice", Content="谁负责近视防控？"))
    wecom = platform.open_reply(r, platform.work).content
    assert _answered_from(library, wecom) == library.default_plan
    assert _answered_from(library, platform.ask("t-alice", "谁负责近视防控？")) == QS2022


def test_a_retried_switch_is_answered_once(platform: Platform, library) -> None:  # type: ignore[no-untyped-def]
    """WeChat resends a message it got no reply to (same MsgId): the switch is not applied twice, and a switch
    the user sent after it is not undone by the retry."""
    user = "t-retry"
    first = platform.post_plain(inbound(user, Content="切换 1", msg_id="7001"))
    assert SWITCHED.match(platform.open_reply(first).content)
    assert SWITCHED.match(platform.ask(user, "切换 2", msg_id="7002"))
    retry = platform.post_plain(inbound(user, Content="切换 1", msg_id="7001"))
    assert SWITCHED.match(platform.open_reply(retry).content)  # the first attempt's reply, again
    assert library.sessions.plan(f"wechat:{user}") == library.plans[1].id


def test_with_one_plan_there_is_nothing_to_switch(index_dir: Path, plan_index: PlanIndex) -> None:
    from config.wiring import build_service

    settings = wechat_settings(index_dir)
    with TestClient(create_app(settings, service=build_service(settings, plan_index))) as client:
        platform = Platform(client)
        for command in ("切换计划", "切换 2"):
            text = platform.ask("t-one", command)
            assert plan_index.plan.title in text and not SWITCHED.match(text) and not _listed(text)
        answer = platform.ask("t-one", "谁负责近视防控？")
        assert not answer.startswith("据《") and "第8项" in answer  # one plan: answers as before
