"""Fault injection: misbehaving clients against a real ``planqa serve`` (uvicorn) on loopback, in rounds.

Each round: a real load tool from Debian (``wrk``, ``hey``) whose connections close abruptly when it stops;
clients that reset the connection (SO_LINGER 0) mid-request and mid-response; clients that vanish mid-stream
from ``/ask/stream`` and the streaming ``/v1/chat/completions`` (against a second server whose LLM streams
slowly, so that they really leave mid-stream); clients that send half a request and stall; hundreds of idle
connections. After every round the same process (same PID) answers ``/health`` and ``/ask`` correctly, a new
stream runs to its end (no stream slot was lost), and the server's log says what happened, with no traceback.

``PLANQA_FAULT_ROUNDS`` sets the number of rounds (default 10). Needs ``wrk`` and ``hey``
(``scripts/system-deps.sh`` installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from index.store import PlanIndex
from tests.conftest import start_server, stop_server
from tests.llm_standin import SlowLLM
from tests.rawhttp import connect, open_stream, post_json, read_until, request, reset

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("PLANQA_FAULT_ROUNDS", "10"))
ASK = {"question": "谁负责近视防控?"}
CHAT = {"model": "planqa", "messages": [{"role": "user", "content": "第12项任务是什么"}]}
IDLE, HALF_HEADERS, HALF_BODIES = 300, 50, 50


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    pid: int = 0
    _read: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)

    def new_log(self) -> tuple[list[dict[str, object]], list[str]]:
        """The log lines written since the last call: (JSON entries, other lines)."""
        data = self.log.read_bytes()
        text, self._read = data[self._read :].decode("utf-8", "replace"), len(data)
        entries: list[dict[str, object]] = []
        other: list[str] = []
        for line in text.splitlines():
            self.lines.append(line)
            try:
                entries.append(json.loads(line))
            except ValueError:
                other.append(line)
        return entries, other


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [t for t in ("wrk", "hey") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `bash scripts/system-deps.sh` (as root) or make test")


@pytest.fixture(scope="module")
def llm() -> Iterator[SlowLLM]:
    standin = SlowLLM(delay=0.15, chunks=10)  # ~1.6 s a stream
    yield standin
    standin.close()


def _start(name: str, env: dict[str, str], tmp: Path) -> Server:
    log = tmp / f"{name}.log"
    proc, url = start_server(env, log=log)
    server = Server(name, proc, url, log, pid=proc.pid)
    server.new_log()  # start-up lines
    return server


@pytest.fixture(scope="module")
def servers(
    tools: None, llm: SlowLLM, index_dir: Path, plan_index: PlanIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """``plain`` answers extractively (load tools and resets); ``slow`` streams through the slow LLM."""
    tmp = tmp_path_factory.mktemp("faults")
    base = {"PLANQA_INDEX_DIR": str(index_dir), "PLANQA_REBUILD_INDEX": "false", "PLANQA_RATE_LIMIT_PER_IP": "0"}
    plain = _start("plain", base, tmp)
    # Eight places for LLM answers, all usable from one address: a round's eight vanishing readers take them all,
    # so a place not given back when its reader left would turn the next round's streams away.
    limits = {"PLANQA_MAX_LLM_STREAMS": "8", "PLANQA_MAX_STREAMS_PER_CLIENT": "8"}
    slow = _start("slow", {**base, **limits, "PLANQA_LLM_BASE_URL": llm.url, "PLANQA_LLM_MODEL": "slow"}, tmp)
    try:
        yield plain, slow
    finally:
        for server in (plain, slow):
            stop_server(server.proc)


# --- misbehaving clients ------------------------------------------------------------------------------


def reset_clients(server: Server) -> Counter[str]:
    """Connections reset before the response, mid-response, and mid-request-body."""

    def before_response(_: int) -> str:
        sock = connect(server.url)
        sock.sendall(post_json("/ask", ASK))
        reset(sock)
        return "reset before the response"

    def mid_response(i: int) -> str:
        sock = connect(server.url)
        sock.sendall(request("GET", "/openapi.json" if i % 2 else "/tasks"))
        read_until(sock, b"\r\n\r\n")  # the status line and headers, then leave mid-body
        reset(sock)
        return "reset mid-response"

    def mid_body(_: int) -> str:
        sock = connect(server.url)
        body = json.dumps(ASK).encode()
        sock.sendall(request("POST", "/ask", body[:10], length=len(body)))
        time.sleep(0.05)  # the server has started reading the body
        reset(sock)
        return "reset mid-request-body"

    jobs: list[Callable[[int], str]] = [before_response] * 10 + [mid_response] * 10 + [mid_body] * 10
    with ThreadPoolExecutor(16) as pool:
        return Counter(pool.map(lambda ij: ij[1](ij[0]), enumerate(jobs)))


def vanishing_streams(server: Server, count: int = 4) -> Counter[str]:
    """Readers of ``/ask/stream`` and the streaming ``/v1`` that leave after the first event, at once or half a
    second later (the LLM is then writing), by RST or FIN."""

    def leave(i: int) -> str:
        path, data = ("/ask/stream", ASK) if i % 2 else ("/v1/chat/completions", {**CHAT, "stream": True})
        sock, status, head = open_stream(server.url, path, data)
        assert status == 200, head[:400]
        if i % 4 < 2:
            time.sleep(0.5)
        reset(sock) if i % 4 in (0, 2) else sock.close()
        return "vanished mid-stream"

    with ThreadPoolExecutor(count * 2) as pool:
        return Counter(pool.map(leave, range(count * 2)))


def stalled_and_idle(server: Server, check: Callable[[], None]) -> Counter[str]:
    """Hundreds of idle connections, half requests (headers, or body) that stall; ``check`` runs while they
    are held; then they are closed, by RST or FIN."""
    held: list[socket.socket] = []
    outcome: Counter[str] = Counter()
    try:
        for _ in range(IDLE):
            held.append(connect(server.url))
        outcome["idle connections"] = IDLE
        for _ in range(HALF_HEADERS):
            sock = connect(server.url)
            sock.sendall(b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            held.append(sock)
        outcome["half headers, stalled"] = HALF_HEADERS
        body = json.dumps(ASK).encode()
        for _ in range(HALF_BODIES):
            sock = connect(server.url)
            sock.sendall(request("POST", "/ask", body[:8], length=len(body)))
            held.append(sock)
        outcome["half bodies, stalled"] = HALF_BODIES
        check()
    finally:
        for i, sock in enumerate(held):
            reset(sock) if i % 2 else sock.close()
    return outcome


# --- load tools -----------------------------------------------------------------------------------------


def run_wrk(server: Server, tmp: Path, seconds: int = 2) -> dict[str, int]:
    script = tmp / "ask.lua"
    script.write_text(
        f"wrk.method = \"POST\"\nwrk.body = '{json.dumps(ASK, ensure_ascii=False)}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n',
        encoding="utf-8",
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), f"{server.url}/ask"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    done = re.search(r"(\d+) requests in", out)
    assert done, out
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(done.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def run_hey(server: Server, seconds: int = 1) -> Counter[str]:
    out = subprocess.run(
        ["hey", "-z", f"{seconds}s", "-c", "32", "-m", "POST", "-T", "application/json", "-d", json.dumps(CHAT)]
        + [f"{server.url}/v1/chat/completions"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    statuses = Counter({code: int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)})
    assert statuses, out
    return statuses


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    time.sleep(0.2)  # and the server's thread has let go of it


# --- checks ---------------------------------------------------------------------------------------------


def alive(server: Server, after: str = "") -> None:
    code = server.proc.poll()
    assert code is None, f"{server.name} died after {after}: {code} (-13: SIGPIPE)\n{server.log.read_text()[-3000:]}"


def answers_correctly(server: Server, timeout: float = 10) -> None:
    """The same process, alive, answering its probes and a question with the right citation."""
    alive(server)
    assert server.proc.pid == server.pid
    with httpx.Client(base_url=server.url, timeout=timeout) as http:
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert http.get("/ready").status_code == 200
        body = http.post("/ask", json=ASK).json()
        assert body["citations"][0]["task"] == 8 and "体卫艺科" in body["answer"], body


def streams_to_the_end(server: Server) -> str:
    """A stream read to its ``done`` event: nothing left behind holds a stream slot. Returns the answer mode."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        with http.stream("POST", "/ask/stream", json=ASK) as r:
            assert r.status_code == 200, r.read()
            events = [line.removeprefix("event: ") for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "meta" and events[-1] == "done", events
    return events[-1]


def log_says(server: Server) -> dict[str, object]:
    """What the server logged since the last look: no traceback, no error; the requests by route and status,
    and the other events."""
    entries, other = server.new_log()
    problems = [e for e in entries if e.get("level") in {"error", "critical"} or "exception" in e]
    problems += [line for line in other if "Traceback" in line or "Exception in ASGI" in line]
    assert not problems, f"{server.name} logged errors:\n" + "\n".join(map(str, problems[:5]))
    requests = Counter(f"{e.get('route')} {e.get('status')}" for e in entries if e.get("message") == "request")
    events = Counter(str(e.get("event") or e.get("message")) for e in entries if e.get("message") != "request")
    return {"requests": dict(requests), "events": dict(events), "other": Counter(other)}


# --- the rounds -----------------------------------------------------------------------------------------


def test_misbehaving_clients_in_rounds(servers: tuple[Server, Server], llm: SlowLLM, tmp_path: Path) -> None:
    plain, slow = servers
    report: list[str] = []
    for n in range(1, ROUNDS + 1):
        started = time.monotonic()
        wrk = run_wrk(plain, tmp_path)
        alive(plain, "wrk")
        hey = run_hey(plain)
        alive(plain, "hey")
        resets = reset_clients(plain)
        alive(plain, "the resets")
        vanished_fast = vanishing_streams(plain)
        vanished_slow = vanishing_streams(slow)
        _wait_for(lambda: llm.active == 0)  # the model stops at its next token once the reader has gone
        stalled = stalled_and_idle(plain, lambda: (answers_correctly(plain), answers_correctly(slow)))

        for server in (plain, slow):
            answers_correctly(server)
        streams_to_the_end(slow)
        time.sleep(0.3)  # the last access lines are written after the responses
        said = {server.name: log_says(server) for server in (plain, slow)}

        assert wrk["non_2xx"] == 0 and wrk["socket_errors"] == 0, wrk
        assert set(hey) == {"200"}, hey
        plain_requests = said["plain"]["requests"]
        assert isinstance(plain_requests, dict)
        assert plain_requests.get("/ask 200", 0) >= wrk["requests"], (wrk, plain_requests)
        # A client that left while sending its body is logged as such (499), not as a bad request (400).
        left_mid_body = resets["reset mid-request-body"] + stalled["half bodies, stalled"]
        assert plain_requests.get("/ask 499", 0) >= left_mid_body and "/ask 400" not in plain_requests
        slow_events = said["slow"]["events"]
        assert isinstance(slow_events, dict)
        assert slow_events.get("stream_abandoned", 0) >= sum(vanished_slow.values()), slow_events
        report.append(
            f"round {n} ({time.monotonic() - started:.1f} s): wrk {wrk}, hey {dict(hey)}, {dict(resets)}, "
            f"{dict(vanished_fast + vanished_slow)}, {dict(stalled)}; "
            f"plain logged {plain_requests} {said['plain']['events']} {dict(said['plain']['other'])}; "
            f"slow logged {said['slow']['requests']} {slow_events}"
        )
        print(report[-1])
    assert llm.active == 0  # every upstream stream was closed, none left hanging
    print(f"{ROUNDS} rounds passed; plain pid {plain.pid}, slow pid {slow.pid}; LLM streams served {llm.served}, "
          f"abandoned {llm.abandoned}")  # fmt: skip


def test_the_server_ignores_sigpipe(servers: tuple[Server, Server]) -> None:
    """Writing to a socket its peer has closed must raise EPIPE in the server, not end it (SIGPIPE's default)."""
    plain, _ = servers
    status = Path(f"/proc/{plain.pid}/status").read_text()
    ignored = int(re.search(r"SigIgn:\s+([0-9a-f]+)", status).group(1), 16)  # type: ignore[union-attr]
    assert ignored & (1 << (13 - 1)), "SIGPIPE is not ignored by planqa serve"  # SIGPIPE is signal 13
