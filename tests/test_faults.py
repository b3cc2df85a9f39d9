"""Faults an operator will meet: a build killed midway, a corrupt index file, SIGTERM under load, two processes
building at once, a full disk."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from config.settings import DEFAULT_CORPUS, ROOT
from tests.conftest import free_port, server_output, start_server, stop_server

pytestmark = pytest.mark.slow


def _serve_once(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``planqa serve`` expecting it to exit on its own (a failed start-up)."""
    full = {**os.environ, **env, "PLANQA_PORT": str(free_port())}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sigkill_mid_build_leaves_the_previous_index_in_service(tmp_path: Path, index_dir: Path, plan_index):
    # A previous, good index of the bundled corpus…
    live = tmp_path / "live"
    subprocess.run(["cp", "-r", str(index_dir), str(live)], check=True)
    env = {"PLANQA_INDEX_DIR": str(live)}
    before = (live / "current").read_text()
    # …then a rebuild killed while it embeds (the progress bar is on stderr).
    build = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "index",
            "build",
            "--corpus",
            str(ROOT / "tests/data/other-city-plan.txt"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert build.stderr is not None
    seen = ""
    while "embedding" not in seen:
        char = build.stderr.read(1)
        assert char, "the build ended before it started embedding"
        seen += char
    build.send_signal(signal.SIGKILL)
    build.wait()
    assert (live / "current").read_text() == before
    proc, url = start_server({**env, "PLANQA_REBUILD_INDEX": "false", "PLANQA_CORPUS": str(DEFAULT_CORPUS)})
    try:
        body = httpx.post(f"{url}/ask", json={"question": "谁负责近视防控?"}, timeout=10).json()
        assert body["citations"][0]["task"] == 8
    finally:
        stop_server(proc)


def test_corrupt_index_file_stops_start_up_with_the_fix(tmp_path: Path, index_dir: Path, plan_index):
    live = tmp_path / "live"
    subprocess.run(["cp", "-r", str(index_dir), str(live)], check=True)
    build = live / "builds" / (live / "current").read_text().strip()
    (build / "keyword.json").write_text('{"words": []}', encoding="utf-8")
    out = _serve_once({"PLANQA_INDEX_DIR": str(live)})
    assert out.returncode != 0
    log = out.stdout + out.stderr
    assert str(build / "keyword.json") in log and "planqa index build" in log


def test_sigterm_lets_in_flight_requests_finish(index_dir: Path, plan_index):
    """Every request the app took up when SIGTERM arrived is answered and delivered; the rest are turned away
    at the connection (refused, or closed before the request was read) — never half-answered, never a 5xx.

    Checked from both ends: the client's 200s must equal the 200s in the server's own access log.
    """
    proc, url = start_server({"PLANQA_INDEX_DIR": str(index_dir), "PLANQA_REBUILD_INDEX": "false"})
    questions = [f"第{n}项任务是什么" for n in range(1, 18)] + ["基教科负责哪些任务?", "谁负责近视防控?"] * 8
    results: list[int | str] = []
    lock = threading.Lock()

    def ask(question: str) -> None:
        try:
            status: int | str = httpx.post(f"{url}/ask", json={"question": question}, timeout=20).status_code
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
            status = "turned away"  # shutdown had begun before the app read this request
        with lock:
            results.append(status)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while 200 not in results and time.monotonic() < deadline:  # the first answer is out: others are in flight
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    # uvicorn finishes in-flight requests, then re-raises SIGTERM so the exit status tells how it ended.
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    served = [json.loads(line) for line in server_output(proc).splitlines() if line.startswith('{"time"')]
    served_ok = [e for e in served if e.get("route") == "/ask" and e.get("status") == 200]
    assert len(results) == len(questions)
    assert set(results) <= {200, "turned away"}, results
    print("sigterm outcome:", {r: results.count(r) for r in set(results)})
    assert results.count(200) >= 1, results
    # Nothing answered by the app was lost on the way out.
    assert results.count(200) == len(served_ok), (results, served)


def _planqa(*args: str, env: dict[str, str], file_limit: int | None = None) -> subprocess.Popen[str]:
    """``planqa …`` as a process of its own; ``file_limit`` caps the size of any file it writes (bytes), which a
    write beyond meets as a full disk does: the write fails (EFBIG; Python ignores SIGXFSZ)."""

    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )


def _builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / "builds").iterdir())


def test_two_processes_asked_to_build_build_once(tmp_path: Path) -> None:
    """`planqa index build --if-needed` twice at once on an empty folder (two units starting, a deploy script run
    twice): one builds, the other waits for it and uses what it built — one build folder, no collision."""
    env = {"PLANQA_INDEX_DIR": str(tmp_path / "index")}
    procs = [_planqa("index", "build", "--if-needed", "--quiet", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    said = sorted(out for out, _ in outs)
    assert sum(out.count("\nbuilt ") for out in said) == 1, said
    assert sum("waiting for another process's build" in out and "index up to date" in out for out in said) == 1
    assert len(_builds(tmp_path / "index")) == 1


def test_two_workers_starting_on_an_empty_folder_build_once(tmp_path: Path) -> None:
    """`planqa serve --workers 2` with PLANQA_REBUILD_INDEX=true and no index: one worker builds, the other loads
    that build; both answer."""
    log = tmp_path / "server.log"
    proc, url = start_server({"PLANQA_INDEX_DIR": str(tmp_path / "index")}, workers=2, timeout=180, log=log)
    try:
        for _ in range(6):  # on either worker
            body = httpx.post(f"{url}/ask", json={"question": "谁负责近视防控?"}, timeout=10).json()
            assert body["citations"][0]["task"] == 8
    finally:
        stop_server(proc)
    events = [json.loads(line).get("event") for line in log.read_text().splitlines() if line.startswith('{"time"')]
    assert events.count("index_build") == 1 and events.count("index_built") == 1, events
    assert events.count("index_loaded") == 1, events  # the other worker, after waiting for the lock
    assert len(_builds(tmp_path / "index")) == 1


def test_a_full_disk_is_the_projects_error_and_the_index_in_service_stays(tmp_path: Path, index_dir: Path, plan_index):
    live = tmp_path / "live"
    subprocess.run(["cp", "-r", str(index_dir), str(live)], check=True)
    before = (live / "current").read_text()
    build = _planqa("index", "build", "--quiet", env={"PLANQA_INDEX_DIR": str(live)}, file_limit=100_000)
    out, err = build.communicate(timeout=300)
    assert build.returncode == 1, (out, err)
    assert err.startswith("planqa: 索引写入失败") and "free disk space" in err and "planqa index build" in err
    assert "Traceback" not in err
    assert (live / "current").read_text() == before
    assert not [p for p in (live / "builds").iterdir() if p.name.startswith(".building-")]
    # The server building at start-up says the same, in its log, and exits: no traceback.
    env = {"PLANQA_INDEX_DIR": str(tmp_path / "fresh"), "PLANQA_PORT": str(free_port())}
    serve = _planqa("serve", env=env, file_limit=100_000)
    out, err = serve.communicate(timeout=300)
    assert serve.returncode != 0
    assert "索引写入失败" in out + err and "Traceback" not in out + err, out + err
