"""The planqa command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from api.cli import check_workers
from config.settings import ROOT, Settings
from index.errors import PlanQAError
from tests.conftest import DATA, free_port, stop_server

pytestmark = pytest.mark.slow


def planqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def env(index_dir, plan_index) -> dict[str, str]:
    return {"PLANQA_INDEX_DIR": str(index_dir), "PLANQA_REBUILD_INDEX": "false"}


def test_ask_prints_answer_and_citations(env):
    out = planqa("ask", "谁负责近视防控?", env=env)
    assert out.returncode == 0, out.stderr
    assert "体卫艺科（牵头）" in out.stdout and "【第8项】" in out.stdout


def test_ask_json_is_the_api_shape(env):
    out = planqa("ask", "--json", "课后服务归哪个科室管?", env=env)
    body = json.loads(out.stdout)
    assert body["intent"] == "who" and body["citations"][0]["task"] == 12


def test_ask_invalid_question_exits_1_with_message(env):
    out = planqa("ask", "   ", env=env)
    assert out.returncode == 1 and "The question is empty" in out.stderr


def test_tasks_lists_sections_and_gaps():
    out = planqa("tasks")
    assert out.returncode == 0
    assert "萍乡市教育局2021年工作要点" in out.stdout and "缺失的任务编号: [18, 19, 20, 21, 22]" in out.stdout


def test_index_build_other_corpus_then_refuse_stale(tmp_path):
    env = {"PLANQA_INDEX_DIR": str(tmp_path)}
    out = planqa("index", "build", "--quiet", "--corpus", str(DATA / "other-city-plan.txt"), env=env)
    assert out.returncode == 0, out.stderr
    assert "3 tasks" in out.stdout
    # The default corpus differs from what was built: without rebuilding, asking is refused with the fix.
    out = planqa("ask", "谁负责防溺水", env={**env, "PLANQA_REBUILD_INDEX": "false"})
    assert out.returncode == 1 and "planqa index build" in out.stderr
    out = planqa("ask", "谁负责防溺水", env={**env, "PLANQA_CORPUS": str(DATA / "other-city-plan.txt")})
    assert out.returncode == 0 and "安全科（牵头）" in out.stdout


def test_bad_setting_is_reported(tmp_path):
    out = planqa("tasks", env={"PLANQA_CORPUS": str(tmp_path / "missing.txt")})
    assert out.returncode == 1 and "PLANQA_CORPUS" in out.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly(env):
    """`planqa tasks --json | true`: the reader is gone before the command prints, so every write goes into a
    closed pipe; no traceback, and the pipeline succeeds (not 141, death by SIGPIPE)."""
    cmd = f"{sys.executable} -m api.cli tasks --json | true"
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


def test_plans_check_prints_the_report_of_any_format(tmp_path):
    from tests.documents import write_docx

    plan = ROOT / "eval" / "data" / "plans" / "qingshan-edu-2022.txt"
    out = planqa("plans", "check", str(plan))
    assert out.returncode == 0, out.stderr
    assert "30 项任务 tasks" in out.stdout and "48/48 行已归类" in out.stdout
    assert "牵头：基础教育科  配合：校外教育培训监管科、督导室" in out.stdout  # task 16's roles
    assert "第4行  扫一扫在手机打开当前页  — page furniture" in out.stdout  # a dropped line, with its number and reason
    assert "第9项“加强家庭教育指导”没有责任单位注释" in out.stdout  # a warning
    docx = write_docx(plan.read_text(encoding="utf-8"), tmp_path / "qingshan.docx")
    out = planqa("plans", "check", "--json", str(docx))
    report = json.loads(out.stdout)
    assert report["source"]["format"] == "docx" and report["lines"]["read"] == report["lines"]["accounted"] == 48
    task16 = report["sections"][3]["tasks"][0]
    assert task16["ref"] == "16" and {"unit": "督导室", "role": "support"} in task16["units"]


def test_plans_check_of_a_bad_file_names_it_and_fails(tmp_path):
    bad = tmp_path / "plan.txt"
    bad.write_bytes("一、总则\n".encode() + b"1.\xff\xfe\x81\n")
    out = planqa("plans", "check", str(bad))
    assert out.returncode == 1 and "plan.txt line 2" in out.stderr and "UTF-8 or GB18030" in out.stderr


WECOM = {"PLANQA_WECOM_TOKEN": "t0ken", "PLANQA_WECOM_AES_KEY": "k" * 43, "PLANQA_WECOM_CORPID": "ww1"}


@pytest.mark.parametrize(
    ("store", "redis_url", "refused"),
    [
        ("memory", "", True),
        ("", "", False),  # unset: several workers share a SQLite file
        ("sqlite", "", False),
        ("redis", "redis://127.0.0.1:6379/0", False),
        ("", "redis://127.0.0.1:6379/0", False),  # the URL alone means redis
    ],
)
def test_several_workers_serve_wechat_only_with_a_shared_store(store: str, redis_url: str, refused: bool) -> None:
    """check_workers: WeChat on two workers is refused with the in-memory store only, and the refusal says what
    to set."""
    settings = Settings(wechat_token="t0ken", state_store=store, redis_url=redis_url)
    check_workers(settings, 1)  # one worker: any store
    if not refused:
        check_workers(settings, 2)
        return
    with pytest.raises(PlanQAError) as refusal:
        check_workers(settings, 2)
    said = str(refusal.value)
    assert "PLANQA_WECHAT_TOKEN" in said and "PLANQA_STATE_STORE=sqlite" in said and "PLANQA_REDIS_URL" in said
    assert "--workers 1" in said
    check_workers(Settings(state_store="memory"), 2)  # without WeChat, the API alone runs on several workers


@pytest.mark.parametrize(
    ("args", "extra", "named"),
    [
        (["--workers", "2"], {"PLANQA_WECHAT_TOKEN": "t0ken"}, "PLANQA_WECHAT_TOKEN"),
        ([], {"PLANQA_WORKERS": "3", "PLANQA_WECHAT_TOKEN": "t0ken"}, "PLANQA_WECHAT_TOKEN"),
        (["--workers", "2"], WECOM, "PLANQA_WECOM_TOKEN"),
    ],
)
def test_serve_refuses_several_workers_with_wechat_state_in_memory(env, args, extra, named):  # type: ignore[no-untyped-def]
    """With the state store in memory, the WeChat callbacks keep their state in each process: several workers
    would answer a retried message twice. The server refuses to start, naming the settings, instead of starting
    wrong. (Unset, several workers share a SQLite store: tests/api/test_replicas.py serves them.)"""
    full = {**os.environ, **env, **extra, "PLANQA_STATE_STORE": "memory", "PLANQA_PORT": str(free_port())}
    cmd = [sys.executable, "-m", "api.cli", "serve", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stop_server(proc)  # type: ignore[arg-type]
        pytest.fail("planqa serve started several workers with WeChat configured")
    assert proc.returncode == 1, err
    assert named in err and "PLANQA_STATE_STORE" in err and "--workers 1" in err and "Traceback" not in err
