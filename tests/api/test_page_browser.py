"""The web page in a real browser: Debian's Chromium driven by Playwright, against a real uvicorn server.

Screenshots of each state go to ``tests/artifacts/`` (git-ignored). Without ``/usr/bin/chromium`` these tests
skip locally and fail in CI (``CI=true``): ``scripts/system-deps.sh`` installs it (never ``playwright install``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.browser import TIMEOUT, answers, shot, wait_answered
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(live_server)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def api(live_server: str, question: str) -> dict:
    return httpx.post(f"{live_server}/ask", json={"question": question}, timeout=30).json()


def test_page_loads_as_modules(browser, live_server):
    """main.js is loaded as a module, imports every other module, and runs without an error."""
    modules = {p.name for p in (Path(__file__).resolve().parents[2] / "api" / "static").glob("*.js")}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    scripts: dict[str, tuple[int, str]] = {}  # file name: (status, content type)

    def seen(response):
        if response.request.resource_type == "script":
            scripts[response.url.rsplit("/", 1)[-1]] = (
                response.status,
                response.headers.get("content-type", ""),
            )

    pg.on("response", seen)
    try:
        pg.goto(live_server)  # waits for the load event: by then every module is fetched and has run
        assert pg.evaluate("() => Array.from(document.scripts, s => [s.type, s.getAttribute('src')])") == [
            ["module", "/static/main.js"]
        ]
        assert not errors, f"JavaScript errors on the page: {errors}"
        assert set(scripts) == modules, "every module file is fetched, and nothing else"
        for name, (status, content_type) in scripts.items():
            assert status == 200 and content_type.startswith("text/javascript"), (name, status, content_type)
        pg.wait_for_function("() => document.title.endsWith(' · 问答')")  # main.js ran: the plan's title is shown
        # The modules work together: ask, and the answer comes back with its cards.
        pg.get_by_role("button", name="谁负责近视防控？").click()
        wait_answered(pg, 1)
        assert answers(pg).first.get_attribute("data-state") == "done"
        assert answers(pg).first.locator(".card").count() > 0
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def test_ask_see_answer_expand_and_follow_up(page, live_server):
    expected = api(live_server, "谁负责劳动教育？")
    assert page.get_by_role("heading", level=1).inner_text().endswith("问答")
    shot(page, "1-start")

    # Slow the network down so that the pending state stays long enough to be seen.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.get_by_label("您的问题").fill("谁负责劳动教育？")  # two tasks say 劳动教育: "第二个呢？" has one
    page.get_by_role("button", name="提问").click()
    first = answers(page).first
    assert first.get_attribute("aria-busy") == "true"
    assert "正在" in first.locator(".status").inner_text()
    assert page.locator("#ask-button").is_disabled()
    shot(page, "2-pending")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    wait_answered(page, 1)

    assert first.get_attribute("data-state") == "done"
    top = expected["citations"][0]
    lead = first.locator(".units-line .unit-tag.lead")
    assert lead.inner_text() == f"牵头：{top['lead_unit']}"
    assert first.locator(".units-line .unit-tag").count() == len(top["units"])
    cards = first.locator(".card")
    assert cards.count() == len(expected["citations"])
    assert cards.first.locator("h3").inner_text() == f"第{top['task']}项 · {top['title']}"
    marks = cards.first.locator(".excerpt mark").all_inner_texts()
    assert marks and all(m in "谁负责劳动教育" for m in marks)
    # The inline mark links to its card.
    assert first.locator(f".answer-text a.cite-ref[href$='-task-{top['task']}']").count() == 1
    shot(page, "3-answer")

    toggle = cards.first.get_by_role("button", name="展开全文")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    full = cards.first.locator(".full")
    full.wait_for(state="visible")
    task = httpx.get(f"{live_server}/tasks/{top['task']}", timeout=30).json()
    assert task["text"] in full.inner_text()
    assert cards.first.get_by_role("button", name="收起全文").get_attribute("aria-expanded") == "true"
    shot(page, "4-expanded")

    page.locator("#followups").get_by_role("button", name="第二个呢？").click()
    wait_answered(page, 2)
    second = answers(page).nth(1)
    second_task = expected["citations"][1]
    assert second.locator(".card h3").first.inner_text().startswith(f"第{second_task['task']}项")
    assert second_task["lead_unit"] in second.locator(".answer-text").inner_text()
    shot(page, "5-follow-up")


def test_typed_question_with_keyboard_and_not_covered(page, live_server):
    box = page.get_by_label("您的问题")
    box.focus()
    box.fill("明天天气怎么样？")
    box.press("Enter")
    wait_answered(page, 1)
    first = answers(page).first
    assert first.get_attribute("data-state") == "not-covered"
    assert first.locator(".badge").inner_text() == "计划未涉及"
    assert first.locator(".card").count() == 0
    assert page.locator(".answer[data-state=error]").count() == 0
    assert box.input_value() == ""
    shot(page, "6-not-covered")


def test_network_error_in_words_then_retry(page):
    page.context.set_offline(True)
    page.get_by_label("您的问题").fill("谁负责近视防控？")
    page.get_by_role("button", name="提问").click()
    wait_answered(page, 1)
    first = answers(page).first
    assert first.get_attribute("data-state") == "error"
    assert "无法连接服务器" in first.inner_text()
    shot(page, "7-network-error")
    page.context.set_offline(False)
    first.get_by_role("button", name="重试").click()
    wait_answered(page, 1)
    assert first.get_attribute("data-state") == "done" and first.locator(".card").count() > 0


def test_a_near_miss_offers_close_tasks_as_buttons(page):
    page.get_by_label("您的问题").fill("课后服务每天几点结束？")
    page.get_by_role("button", name="提问").click()
    wait_answered(page, 1)
    first = answers(page).first
    assert first.get_attribute("data-state") == "not-covered"
    assert first.locator(".badge").inner_text() == "计划未写明"  # not 计划未涉及: the plan covers 课后服务
    button = first.get_by_role("button", name="第12项 全力推动城乡义务教育一体化发展（基教科牵头）")
    shot(page, "9-suggestions")
    button.click()  # asks for that task
    wait_answered(page, 2)
    second = answers(page).nth(1)
    assert second.get_attribute("data-state") == "done" and "第12项" in second.inner_text()


def test_browse_by_unit(page, live_server):
    tab = page.get_by_role("tab", name="浏览计划")
    tab.focus()
    page.keyboard.press("ArrowRight")  # arrow keys move between the tabs (wraps around)
    page.keyboard.press("ArrowLeft")
    assert tab.get_attribute("aria-selected") == "true"
    plan = httpx.get(f"{live_server}/tasks", timeout=30).json()
    page.locator(".task-item").first.wait_for()
    assert page.locator(".task-item:visible").count() == len(plan["tasks"])
    assert page.locator(".plan-section h2").count() == len(plan["sections"])
    shot(page, "8-browse")

    unit = httpx.get(f"{live_server}/units/师资科/tasks", timeout=30).json()
    page.get_by_label("按责任单位筛选").select_option("师资科")
    visible = [int(x) for x in page.locator(".task-item:visible").evaluate_all("els => els.map(e => e.dataset.task)")]
    assert visible == [t["number"] for t in unit["tasks"]]
    leads = page.locator(".task-item:visible .role .unit-tag.lead").count()
    assert leads == len(unit["lead_tasks"])
    assert f"参与{len(unit['tasks'])}项任务" in page.locator("#browse-summary").inner_text()
    page.locator(".task-item:visible summary").first.click()
    assert page.locator(".task-item:visible .task-body").first.is_visible()
    shot(page, "9-browse-unit")


def test_phone_viewport(browser, live_server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    try:
        pg.goto(live_server)
        shot(pg, "10-phone-start")
        pg.get_by_role("button", name="基教科负责哪些任务？").tap()
        wait_answered(pg, 1)
        answer = answers(pg).first
        assert answer.get_attribute("data-state") == "done"
        expected = api(live_server, "基教科负责哪些任务？")
        # Long lists show five cards, then a button for the rest.
        assert answer.locator(".card:visible").count() == min(5, len(expected["citations"]))
        answer.get_by_role("button", name=f"显示全部{len(expected['citations'])}条出处").tap()
        assert answer.locator(".card:visible").count() == len(expected["citations"])
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the page scrolls sideways on a phone"
        assert pg.locator("#ask-button").bounding_box()["width"] >= 44
        shot(pg, "11-phone-answer")
    finally:
        context.close()


def test_access_key_asked_for_when_the_server_wants_one(browser, index_dir, plan_index):
    proc, url = start_server(
        {
            "PLANQA_INDEX_DIR": str(index_dir),
            "PLANQA_REBUILD_INDEX": "false",
            "PLANQA_API_KEYS": "teacher-key",
        }
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    try:
        pg.goto(url)
        key = pg.get_by_label("访问密钥")
        key.wait_for(state="visible")  # the title request was refused: the page asks for the key
        pg.get_by_label("您的问题").fill("谁负责近视防控？")
        pg.get_by_role("button", name="提问").click()
        wait_answered(pg, 1)
        assert answers(pg).first.get_attribute("data-state") == "error"
        assert "PLANQA_API_KEYS" in answers(pg).first.inner_text()  # the server's message, in words
        shot(pg, "12-key-asked")
        key.fill("teacher-key")
        pg.get_by_role("button", name="确定").click()
        assert not key.is_visible()
        answers(pg).first.get_by_role("button", name="重试").click()
        wait_answered(pg, 1)
        assert answers(pg).first.get_attribute("data-state") == "done"
        assert pg.get_by_role("heading", level=1).inner_text().endswith("问答")
    finally:
        context.close()
        stop_server(proc)
