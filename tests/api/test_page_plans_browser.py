"""The page over a library of plans, in a real browser (Debian's Chromium, Playwright) against a real server:
the plan selector (GET /plans), the chosen plan sent with each question, each turn and card naming its plan, the
current plan following the conversation, the browse view of the current plan, and the 任务分工表 download."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from config.settings import DEFAULT_CORPUS, ROOT
from tests.api.browser import TIMEOUT, answers, shot, wait_answered
from tests.conftest import start_server, stop_server
from tests.plans import copy_plan

pytestmark = pytest.mark.slow
PLANS = ROOT / "eval" / "data" / "plans"
ADMIN = "page-admin-key"
PINGXIANG, QS2022, QS2023 = "pingxiang-edu-2021", "qingshan-edu-2022", "qingshan-edu-2023"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Pingxiang 2021 and Qingshan 2022 and 2023, served together (today = 2023). Yields (url, env)."""
    folder = tmp_path_factory.mktemp("page-plans")
    for f in (DEFAULT_CORPUS, PLANS / "qingshan-edu-2022.txt", PLANS / "qingshan-edu-2023.txt"):
        copy_plan(f, folder)
    env = {
        "PLANQA_PLANS": str(folder),
        "PLANQA_INDEX_DIR": str(tmp_path_factory.mktemp("page-plans-index")),
        "PLANQA_CURRENT_YEAR": "2023",
        "PLANQA_ADMIN_API_KEYS": ADMIN,
        "PLANQA_RATE_LIMIT_PER_IP": "0",
    }
    proc, url = start_server(env, timeout=180)
    try:
        yield url, env
    finally:
        stop_server(proc)


@pytest.fixture()
def page(browser, library):  # type: ignore[no-untyped-def]
    url, _ = library
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_function("() => document.querySelectorAll('#plan-select option').length > 1")
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _plans(url: str) -> dict:
    return httpx.get(f"{url}/plans", timeout=30).json()


def _title(url: str, plan_id: str) -> str:
    return next(p["title"] for p in _plans(url)["plans"] if p["id"] == plan_id)


def _ask(pg, question: str, n: int) -> None:
    pg.get_by_label("您的问题").fill(question)
    pg.get_by_role("button", name="提问").click()
    wait_answered(pg, n)


def test_the_selector_lists_the_plans_and_the_chosen_one_answers(page, library):  # type: ignore[no-untyped-def]
    url, _ = library
    listed = _plans(url)
    select = page.get_by_label("计划", exact=True)
    options = select.locator("option").all_inner_texts()
    expected = [p["title"] + ("（默认）" if p["id"] == listed["default"] else "") for p in listed["plans"]]
    assert options == ["按问题自动选择", *expected]
    assert select.input_value() == ""  # nothing chosen: the question picks the plan
    default_title = _title(url, listed["default"])
    assert page.get_by_role("heading", level=1).inner_text() == f"{default_title} · 问答"
    assert page.locator("#plan-note").inner_text() == f"当前：{default_title}"

    # Nothing chosen, no plan named: the default plan answers, and the turn and each card say so.
    _ask(page, "谁负责近视防控？", 1)
    first = answers(page).first
    assert first.locator(".turn-plan").inner_text() == f"出自《{default_title}》"
    assert set(first.locator(".card .card-plan").all_inner_texts()) == {f"《{default_title}》"}

    # A plan chosen: it goes with the question as `plan`, and answers.
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/ask/stream") else None)
    select.select_option(PINGXIANG)
    pingxiang = _title(url, PINGXIANG)
    assert page.get_by_role("heading", level=1).inner_text() == f"{pingxiang} · 问答"
    assert page.locator("#plan-note").inner_text() == ""  # the selector itself says which plan
    _ask(page, "谁负责近视防控？", 2)
    assert sent and sent[-1]["plan"] == PINGXIANG
    asked = {"question": "谁负责近视防控？", "plan": PINGXIANG}
    expected_answer = httpx.post(f"{url}/ask", json=asked, timeout=30).json()
    second = answers(page).nth(1)
    assert second.get_attribute("data-state") == "done"
    assert second.locator(".turn-plan").inner_text() == f"出自《{pingxiang}》"
    cards = second.locator(".card")
    assert cards.count() == len(expected_answer["citations"])
    top = expected_answer["citations"][0]
    assert cards.first.locator("h3").inner_text() == f"{top['label']} · {top['title']}"
    assert set(second.locator(".card .card-plan").all_inner_texts()) == {f"《{pingxiang}》"}
    # 展开全文 reads the task of the card's own plan, not the default plan's task of that number.
    cards.first.get_by_role("button", name="展开全文").click()
    full = cards.first.locator(".full")
    full.wait_for(state="visible")
    task = httpx.get(f"{url}/tasks/{top['task']}", params={"plan": PINGXIANG}, timeout=30).json()
    other = httpx.get(f"{url}/tasks/{top['task']}", params={"plan": listed["default"]}, timeout=30)
    assert task["text"] in full.inner_text()
    assert other.status_code != 200 or other.json()["text"] not in full.inner_text()
    shot(page, "20-plan-chosen")

    # Back to 按问题自动选择: no `plan` goes with the question.
    select.select_option("")
    _ask(page, "青山2022年的计划里，近视防控谁负责？", 3)
    assert "plan" not in sent[-1]
    assert answers(page).nth(2).locator(".turn-plan").inner_text() == f"出自《{_title(url, QS2022)}》"


def test_the_current_plan_follows_the_conversation_in_browse_and_download(page, library):  # type: ignore[no-untyped-def]
    url, _ = library
    qs2022 = _title(url, QS2022)
    link = page.get_by_role("link", name="下载任务分工表（Excel）")
    default = _plans(url)["default"]
    assert link.get_attribute("href") == f"/plans/{default}/matrix.xlsx"

    _ask(page, "青山去年的计划里谁负责近视防控？", 1)  # the question picks Qingshan 2022: the page is on it now
    assert page.locator("#plan-note").inner_text() == f"当前：{qs2022}"
    assert page.get_by_role("heading", level=1).inner_text() == f"{qs2022} · 问答"
    assert link.get_attribute("href") == f"/plans/{QS2022}/matrix.xlsx"
    _ask(page, "那它的牵头单位是谁？", 2)  # a follow-up stays on the conversation's plan
    assert answers(page).nth(1).locator(".turn-plan").inner_text() == f"出自《{qs2022}》"

    # The browse view shows the current plan: its tasks and its units.
    page.get_by_role("tab", name="浏览计划").click()
    tasks = httpx.get(f"{url}/tasks", params={"plan": QS2022}, timeout=30).json()
    units = httpx.get(f"{url}/units", params={"plan": QS2022}, timeout=30).json()
    page.wait_for_function("n => document.querySelectorAll('.task-item').length === n", arg=len(tasks["tasks"]))
    assert page.locator(".plan-section h2").count() == len(tasks["sections"])
    assert page.locator("#unit-filter option").count() == 1 + len(units)
    shot(page, "21-browse-current-plan")

    # The download: the .xlsx of the current plan, under its own name, one sheet for it.
    from openpyxl import load_workbook

    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"{qs2022}-任务分工表.xlsx"
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert book.sheetnames == [QS2022, f"{QS2022} 按单位"]  # the matrix, and the per-unit view
    header = [c.value for c in book[QS2022][1]]
    assert header[:4] == ["编号", "部分", "任务", "牵头单位"]
    assert book[QS2022].max_row == 1 + len(tasks["tasks"])

    # 开始新对话: the conversation's plan is gone, the page is back on the default plan (browse view too).
    page.get_by_role("tab", name="问答").click()
    page.get_by_role("button", name="开始新对话").click()
    assert link.get_attribute("href") == f"/plans/{default}/matrix.xlsx"
    page.get_by_role("tab", name="浏览计划").click()
    default_tasks = httpx.get(f"{url}/tasks", params={"plan": default}, timeout=30).json()
    first = default_tasks["tasks"][0]["title"]
    page.wait_for_function("t => document.querySelector('.task-item summary')?.textContent.includes(t)", arg=first)
    assert page.locator(".task-item").count() == len(default_tasks["tasks"])


def test_a_comparison_names_both_plans_on_the_turn_and_the_cards(page, library):  # type: ignore[no-untyped-def]
    url, _ = library
    _ask(page, "青山的近视防控今年和去年比有什么变化？", 1)
    turn = answers(page).first
    assert turn.get_attribute("data-state") == "done"
    assert turn.locator(".turn-plan").inner_text() == f"对比《{_title(url, QS2022)}》与《{_title(url, QS2023)}》"
    on_cards = set(turn.locator(".card .card-plan").all_inner_texts())
    assert on_cards == {f"《{_title(url, QS2022)}》", f"《{_title(url, QS2023)}》"}
    ids = turn.locator(".card").evaluate_all("cards => cards.map(c => c.id)")
    assert len(ids) == len(set(ids))  # one task number in two plans: two cards, two ids
    shot(page, "22-comparison")


def test_a_removed_plan_is_said_in_words_and_leaves_the_selector(page, library):  # type: ignore[no-untyped-def]
    url, _ = library
    auth = {"Authorization": f"Bearer {ADMIN}"}
    text = (PLANS / "meixi-edu-2023.txt").read_bytes()
    added = httpx.post(f"{url}/plans", files={"file": ("meixi.txt", text)}, data={"id": "meixi-edu-2023"},
                       headers=auth, timeout=300)  # fmt: skip
    assert added.status_code == 201, added.text
    try:
        page.reload()
        page.wait_for_function("() => !!document.querySelector('#plan-select option[value=\"meixi-edu-2023\"]')")
        page.get_by_label("计划", exact=True).select_option("meixi-edu-2023")
        assert httpx.delete(f"{url}/plans/meixi-edu-2023", headers=auth, timeout=60).status_code == 204
        _ask(page, "今年公开招聘多少名教师？", 1)
        turn = answers(page).first
        assert turn.get_attribute("data-state") == "error"
        assert "没有编号为 meixi-edu-2023 的计划" in turn.inner_text()
        page.wait_for_function("() => !document.querySelector('#plan-select option[value=\"meixi-edu-2023\"]')")
        assert page.get_by_label("计划", exact=True).input_value() == ""  # back to 按问题自动选择
        turn.get_by_role("button", name="重试").click()  # asked again, of the plan the question picks
        wait_answered(page, 1)
        assert turn.get_attribute("data-state") in ("done", "not-covered")
    finally:
        httpx.delete(f"{url}/plans/meixi-edu-2023", headers=auth, timeout=60)


def test_the_download_sends_the_access_key(browser, library):  # type: ignore[no-untyped-def]
    """With PLANQA_API_KEYS a plain link would be refused (401): the page downloads with the key it was given."""
    _, env = library
    proc, url = start_server({**env, "PLANQA_API_KEYS": "teacher-key"}, timeout=120)  # the indexes are built
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True, accept_downloads=True)  # fmt: skip
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    try:
        pg.goto(url)
        key = pg.get_by_label("访问密钥")
        key.wait_for(state="visible")  # GET /plans was refused: the page asks for the key
        assert httpx.get(f"{url}/plans/{QS2023}/matrix.xlsx", timeout=30).status_code == 401
        key.fill("teacher-key")
        pg.get_by_role("button", name="确定").click()
        pg.wait_for_function("() => document.querySelectorAll('#plan-select option').length > 1")
        pg.get_by_label("计划", exact=True).select_option(QS2023)
        with pg.expect_download() as info:
            pg.get_by_role("link", name="下载任务分工表（Excel）").tap()
        assert info.value.suggested_filename.endswith("-任务分工表.xlsx")
        assert Path(info.value.path()).read_bytes()[:2] == b"PK"  # an .xlsx is a zip
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the plan bar makes the page scroll sideways on a phone"
        shot(pg, "23-phone-plans")
    finally:
        context.close()
        stop_server(proc)
