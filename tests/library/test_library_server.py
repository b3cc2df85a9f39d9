"""The plan library on a real server: several plans at once, routing, adding and removing while serving,
year over year, the responsibility matrix read back with openpyxl, /v1 models per plan, WeChat's plan switch."""

from __future__ import annotations

import io
import threading
import time

import httpx
import pytest

from config.settings import DEFAULT_CORPUS, ROOT
from tests.conftest import start_server, stop_server
from tests.plans import copy_plan

pytestmark = pytest.mark.slow
PLANS = ROOT / "eval" / "data" / "plans"
ADMIN = "adm1n-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Pingxiang and the two Qingshan plans, served together; the index built at start-up."""
    folder = tmp_path_factory.mktemp("plans")
    for f in (DEFAULT_CORPUS, PLANS / "qingshan-edu-2022.txt", PLANS / "qingshan-edu-2023.txt"):
        copy_plan(f, folder)
    index_dir = tmp_path_factory.mktemp("index")
    env = {
        "PLANQA_PLANS": str(folder),
        "PLANQA_INDEX_DIR": str(index_dir),
        "PLANQA_CURRENT_YEAR": "2023",
        "PLANQA_ADMIN_API_KEYS": ADMIN,
        "PLANQA_RATE_LIMIT_PER_IP": "0",
    }
    # The log to a file: a pipe nobody reads fills with the access log of the test that asks while a plan is added,
    # and then blocks the server (the add timed out on main at 62d148f).
    proc, url = start_server(env, timeout=180, log=tmp_path_factory.mktemp("log") / "server.log")
    try:
        yield url, folder, index_dir
    finally:
        stop_server(proc)


def test_plans_listed_with_the_default(server):  # type: ignore[no-untyped-def]
    url, _, _ = server
    body = httpx.get(f"{url}/plans").json()
    ids = {p["id"] for p in body["plans"]}
    assert {"pingxiang-edu-2021", "qingshan-edu-2022", "qingshan-edu-2023"} <= ids
    assert body["default"] == "qingshan-edu-2023"  # the newest of the issuer with the most plans
    q = next(p for p in body["plans"] if p["id"] == "qingshan-edu-2022")
    assert q["issuer"] == "青山市教育局" and q["year"] == 2022 and q["tasks"] == 30


def test_the_question_picks_the_plan_and_every_citation_names_it(server):  # type: ignore[no-untyped-def]
    url, _, _ = server
    body = httpx.post(f"{url}/ask", json={"question": "青山2022年的计划里，近视防控谁负责？"}, timeout=30).json()
    assert body["plan"]["id"] == "qingshan-edu-2022"
    assert body["citations"] and all(c["plan"] == "qingshan-edu-2022" for c in body["citations"])
    assert body["answer"].startswith("据《青山市教育局2022年工作要点》")
    body = httpx.post(f"{url}/ask", json={"question": "萍乡的计划里谁负责近视防控？"}, timeout=30).json()
    assert body["plan"]["id"] == "pingxiang-edu-2021" and body["citations"][0]["task"] == 8
    # No plan named: the default plan; an explicit plan wins over the default.
    body = httpx.post(f"{url}/ask", json={"question": "谁负责近视防控？"}, timeout=30).json()
    assert body["plan"]["id"] == "qingshan-edu-2023"
    body = httpx.post(f"{url}/ask", json={"question": "谁负责近视防控？", "plan": "pingxiang-edu-2021"}, timeout=30)
    assert body.json()["citations"][0]["plan"] == "pingxiang-edu-2021"
    assert httpx.post(f"{url}/ask", json={"question": "谁负责?", "plan": "nope"}, timeout=30).status_code == 404


def test_follow_ups_stay_on_the_plan_and_move_with_a_named_year(server):  # type: ignore[no-untyped-def]
    url, _, _ = server
    conv = {"conversation_id": "lib-follow-1"}
    first = httpx.post(f"{url}/ask", json={"question": "青山去年的计划里谁负责近视防控？", **conv}, timeout=30).json()
    assert first["plan"]["id"] == "qingshan-edu-2022"
    again = httpx.post(f"{url}/ask", json={"question": "那它的牵头单位是谁？", **conv}, timeout=30).json()
    assert again["plan"]["id"] == "qingshan-edu-2022" and again["follow_up"] == "lead"
    moved = httpx.post(f"{url}/ask", json={"question": "2023年呢？", **conv}, timeout=30).json()
    assert moved["plan"]["id"] == "qingshan-edu-2023" and moved["follow_up"] == "plan"
    assert moved["citations"] and moved["citations"][0]["plan"] == "qingshan-edu-2023"


def test_year_over_year_question_and_route(server):  # type: ignore[no-untyped-def]
    url, _, _ = server
    body = httpx.post(f"{url}/ask", json={"question": "青山的近视防控今年和去年比有什么变化？"}, timeout=30).json()
    assert body["intent"] == "compare" and body["comparison"]["old"] == "qingshan-edu-2022"
    assert "0.5个百分点" in body["answer"] and "1个百分点" in body["answer"]
    assert {c["plan"] for c in body["citations"]} == {"qingshan-edu-2022", "qingshan-edu-2023"}
    refused = httpx.post(f"{url}/ask", json={"question": "萍乡2021年和青山2023年比，大班额有什么变化？"}, timeout=30)
    assert refused.json()["comparison"]["refused"] == "different_issuers" and refused.json()["found"] is False
    diff = httpx.get(f"{url}/plans/qingshan-edu-2023/diff/qingshan-edu-2022", timeout=30).json()
    assert diff["old"]["id"] == "qingshan-edu-2022" and diff["counts"]["new"] == 3 and diff["counts"]["dropped"] == 2
    moved = next(c for c in diff["changes"] if c["new_ref"] == "16")
    assert moved["old_ref"] == "15" and moved["old_leads"] == ["电化教育馆"] and moved["new_leads"] == ["教育信息中心"]
    assert httpx.get(f"{url}/plans/pingxiang-edu-2021/diff/qingshan-edu-2022").status_code == 422


def test_the_matrix_reads_back_with_openpyxl(server):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    url, _, _ = server
    r = httpx.get(f"{url}/plans/pingxiang-edu-2021/matrix.xlsx", timeout=30)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["pingxiang-edu-2021"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["编号", "部分", "任务", "牵头单位"] and "体卫艺科" in header
    assert sheet.freeze_panes == "E2" and sheet.auto_filter.ref.startswith("A1:")
    row8 = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "第8项")
    assert row8[header.index("体卫艺科")] == "牵头" and row8[header.index("基教科")] == "配合"
    assert row8[header.index("各县区教育行政部门")] == "落实" and row8[header.index("师资科")] in (None, "")
    assert sheet.max_row == 1 + 26  # 26 tasks (18–22 are absent)
    every = load_workbook(io.BytesIO(httpx.get(f"{url}/plans/matrix.xlsx", timeout=30).content))
    assert set(every.sheetnames) >= {"pingxiang-edu-2021", "qingshan-edu-2022", "qingshan-edu-2023"}
    csv = httpx.get(f"{url}/plans/qingshan-edu-2023/matrix.csv", timeout=30)
    assert csv.content.startswith("\ufeff编号".encode()) and "基础教育科" in csv.text
    duties = httpx.get(f"{url}/plans/pingxiang-edu-2021/units/基教科/duties", timeout=30).json()
    roles = {d["label"]: d["role_label"] for d in duties["duties"]}
    assert roles["第12项"] == "牵头" and roles["第8项"] == "配合" and "(责任单位:" in duties["duties"][0]["text"]


def test_v1_models_and_a_plan_as_model(server):  # type: ignore[no-untyped-def]
    url, _, _ = server
    models = [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
    assert "planqa" in models and "planqa:qingshan-edu-2022" in models
    ask = {"model": "planqa:pingxiang-edu-2021", "messages": [{"role": "user", "content": "谁负责近视防控?"}]}
    body = httpx.post(f"{url}/v1/chat/completions", json=ask, timeout=30).json()
    assert body["citations"][0]["plan"] == "pingxiang-edu-2021" and body["citations"][0]["task"] == 8
    bad = httpx.post(f"{url}/v1/chat/completions", json={**ask, "model": "planqa:nope"}, timeout=30)
    assert bad.status_code == 404


def test_add_and_remove_while_serving(server):  # type: ignore[no-untyped-def]
    """A plan uploaded while another thread keeps asking: every answer meanwhile is a 200 from the plans served,
    and answers keep coming while the plan is built — repeated questions (answered on the event loop) and new
    ones (their query vectors computed by the model the build is using); the new plan answers once added; a bad
    file is refused with its report and nothing changes; removing it keeps its text aside."""
    url, folder, _ = server
    auth = {"Authorization": f"Bearer {ADMIN}"}
    answers: list[tuple[float, int, str | None]] = []  # (when it came, status, plan)
    stop = threading.Event()
    topics = ["近视防控", "课后服务", "大班额", "校园安全", "教师培训", "学前教育", "职业教育", "体育中考"]

    def keep_asking() -> None:
        with httpx.Client(timeout=120) as c:  # a busy 2-core machine: the build competes for the CPU
            n = 0
            while not stop.is_set():
                fresh = f"萍乡的计划里{topics[n % len(topics)]}第{n}次由谁负责？"  # a question never asked before
                for question in ("萍乡的计划里谁负责近视防控？", fresh):
                    r = c.post(f"{url}/ask", json={"question": question})
                    plan = r.json().get("plan", {}).get("id") if r.status_code == 200 else None
                    answers.append((time.monotonic(), r.status_code, plan))
                n += 1

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        text = (PLANS / "yunling-health-2023.txt").read_bytes()
        no_key = httpx.post(f"{url}/plans", files={"file": ("y.txt", text)}, timeout=120)
        assert no_key.status_code == 401
        upload_began = time.monotonic()
        r = httpx.post(
            f"{url}/plans", files={"file": ("yunling.txt", text)}, data={"id": "yunling-health-2023"}, headers=auth,
            timeout=300,
        )  # fmt: skip
        upload_ended = time.monotonic()
        assert r.status_code == 201, r.text
        assert r.json()["plan"]["issuer"] == "云岭市卫生健康委员会" and r.json()["report"]["lines"]["read"] > 0
        assert httpx.post(f"{url}/plans", files={"file": ("yunling.txt", text)}, data={"id": "yunling-health-2023"},
                          headers=auth, timeout=60).status_code == 409  # fmt: skip
    finally:
        stop.set()
        asker.join()
    assert answers and {status for _, status, _ in answers} == {200}
    assert {plan for _, _, plan in answers} == {"pingxiang-edu-2021"}
    assert any(upload_began < when < upload_ended for when, _, _ in answers)  # answering went on during the build
    body = httpx.post(
        f"{url}/ask", json={"question": "云岭卫健委今年家庭医生签约服务由哪个科室负责？"}, timeout=30
    ).json()
    assert body["plan"]["id"] == "yunling-health-2023" and body["found"]
    before = httpx.get(f"{url}/plans").json()
    bad = httpx.post(f"{url}/plans", files={"file": ("bad.txt", "这不是计划。\n只是两行。".encode())}, headers=auth,
                     timeout=60)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"]
    broken = httpx.post(f"{url}/plans", files={"file": ("bad.txt", b"\xff\xfe\x81\x00garbage")}, headers=auth,
                        timeout=60)  # fmt: skip
    assert broken.status_code in (415, 422)
    assert httpx.get(f"{url}/plans").json() == before
    assert httpx.delete(f"{url}/plans/yunling-health-2023", headers=auth).status_code == 204
    assert "yunling-health-2023" not in {p["id"] for p in httpx.get(f"{url}/plans").json()["plans"]}
    assert list((folder / ".removed").glob("yunling-health-2023-*/yunling-health-2023.txt"))
    assert httpx.delete(f"{url}/plans/yunling-health-2023", headers=auth).status_code == 404


def test_a_plan_added_by_the_cli_is_picked_up_by_the_server(server):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    url, folder, index_dir = server
    env = {**os.environ, "PLANQA_PLANS": str(folder), "PLANQA_INDEX_DIR": str(index_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "plans", "add", str(PLANS / "meixi-edu-2023.txt")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "meixi-edu-2023" in {p["id"] for p in httpx.get(f"{url}/plans").json()["plans"]}:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the server did not pick up the plan the CLI added")
    body = httpx.post(f"{url}/ask", json={"question": "梅溪县今年公开招聘多少名教师？"}, timeout=30).json()
    assert body["plan"]["id"] == "meixi-edu-2023"
