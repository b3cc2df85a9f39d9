"""Load generators: ``wrk`` (a C client, so the load takes little CPU from the server) and a Python client.

``wrk`` is driven by a Lua script written per run. Two modes:
- ``cycle``: for ``duration`` seconds, each request takes the next body of the list, round and round (one body:
  the same question again and again);
- ``once``: each body at most once — every question unseen by the server — and the run ends when all but the
  last ``connections`` have been answered (so no body is ever sent twice, and none is left waiting on a slow
  tail), timed from the first request to that answer.

The script counts statuses other than 2xx, and the server's CPU time (user + system, all its processes) is
read from ``/proc`` before and after: CPU milliseconds per request is the figure a busy machine blurs least.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np


@dataclass(frozen=True)
class Load:
    """One load run against one server."""

    system: str  # planqa, bare-fastapi, langchain
    scenario: str  # e.g. "repeated question", "unseen questions"
    path: str
    workers: int
    connections: int
    client: str  # wrk or httpx
    requests: int
    errors: int  # statuses other than 2xx, and socket errors
    seconds: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None  # the server's CPU time (all its processes) per answered request

    def row(self) -> dict[str, object]:
        return asdict(self)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, in seconds (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } planqa_timeval;
int gettimeofday(planqa_timeval *t, void *tz);
]]
local tv = ffi.new("planqa_timeval")
local function now_us() ffi.C.gettimeofday(tv, nil); return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec) end

local bodies = {@BODIES@}
local method, path, once, connections = "@METHOD@", "@PATH@", @ONCE@, @CONNECTIONS@
local headers = {["Content-Type"] = "application/json"}
local stop_at = once and math.max(1, #bodies - connections) or math.huge
sent, got, bad, first_us, last_us = 0, 0, 0, 0, 0
local threads = {}

setup = function(thread) table.insert(threads, thread) end

request = function()
  if sent == 0 then first_us = now_us() end
  sent = sent + 1
  if #bodies == 0 then return wrk.format(method, path) end
  return wrk.format(method, path, headers, bodies[((sent - 1) % #bodies) + 1])
end

response = function(status, hdrs, body)
  if got >= stop_at then return end
  got = got + 1
  last_us = now_us()
  if status < 200 or status > 299 then bad = bad + 1 end
  if got == stop_at then
    io.write("PLANQA-STOP\n")
    io.flush()
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local t = threads[1]
  local e = summary.errors
  io.write(string.format(
    'PLANQA {"sent": %d, "got": %d, "bad": %d, "elapsed_us": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    t:get("sent"), t:get("got"), t:get("bad"), t:get("last_us") - t:get("first_us"),
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(bodies: list[bytes], method: str, path: str, once: bool, connections: int) -> str:
    def quoted(body: bytes) -> str:
        text = body.decode("ascii")  # JSON with ASCII escapes: nothing Lua could misread
        assert "]==]" not in text
        return f"[==[{text}]==]"

    return (
        _LUA.replace("@BODIES@", ", ".join(quoted(b) for b in bodies))
        .replace("@METHOD@", method)
        .replace("@PATH@", path)
        .replace("@ONCE@", "true" if once else "false")
        .replace("@CONNECTIONS@", str(connections))
    )


def wait_until_idle(pids: list[int], quiet: float = 0.05, timeout: float = 30.0) -> None:
    """Wait until the server's processes use less than ``quiet`` of a core (over 0.25 s): requests a run left
    in flight (an unseen run stops with one per connection still being answered) must not bill the next run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(0.25)
        if cpu_seconds(pids) - before < quiet * 0.25:
            return


def question_bodies(questions: list[str]) -> list[bytes]:
    return [json.dumps({"question": q}).encode("ascii") for q in questions]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(
    url: str,
    *,
    system: str,
    scenario: str,
    path: str,
    method: str = "POST",
    bodies: list[bytes] | None = None,
    connections: int = 16,
    duration: float = 5.0,
    once: bool = False,
    workers: int = 1,
    pids: list[int] | None = None,
) -> Load:
    """Run wrk (one thread: one Lua state, so "once" really means once) and report the run."""
    bodies = bodies or []
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="ascii") as f:
        f.write(_lua(bodies, method, path, once, connections))
        script = f.name
    # A "once" run stops itself; its duration is only a ceiling.
    seconds = max(duration, 120.0) if once else duration
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "30s", "-s", script, url + path]
    cpu_before = cpu_seconds(pids or [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("PLANQA-STOP"):
                proc.send_signal(signal.SIGINT)  # wrk reports (and calls done()) on SIGINT
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.unlink(script)
    cpu = cpu_seconds(pids or []) - cpu_before
    result = next((json.loads(x[len("PLANQA ") :]) for x in lines if x.startswith("PLANQA {")), None)
    if result is None:
        raise RuntimeError(f"wrk gave no result ({' '.join(cmd)}):\n{''.join(lines)[-2000:]}")
    got, elapsed = int(result["got"]), max(int(result["elapsed_us"]), 1) / 1e6
    run = {"system": system, "scenario": scenario, "path": path, "workers": workers, "connections": connections}
    errors = int(result["bad"]) + int(result["socket_errors"])
    p50, p99 = result["p50_us"] / 1000, result["p99_us"] / 1000
    return _measured(run, "wrk", got, errors, elapsed, p50, p99, cpu if pids else None)


def _measured(
    run: dict[str, Any], client: str, requests: int, errors: int, seconds: float, p50_ms: float, p99_ms: float,
    cpu_s: float | None,
) -> Load:  # fmt: skip
    return Load(
        **run,
        client=client,
        requests=requests,
        errors=errors,
        seconds=round(seconds, 2),
        throughput_rps=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=round(p50_ms, 2),
        p99_ms=round(p99_ms, 2),
        cpu_ms_per_request=round(cpu_s * 1000 / requests, 3) if cpu_s is not None and requests else None,
    )


async def _python_load(
    url: str, path: str, bodies: list[bytes], connections: int, duration: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = issued = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal issued, errors
            while time.perf_counter() < deadline:
                body = bodies[issued % len(bodies)]
                issued += 1
                started = time.perf_counter()
                try:
                    ok = (await client.post(path, content=body, headers=headers)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, errors, time.perf_counter() - started


def python_client(
    url: str,
    *,
    system: str,
    scenario: str,
    path: str,
    bodies: list[bytes],
    connections: int = 16,
    duration: float = 5.0,
    workers: int = 1,
    pids: list[int] | None = None,
) -> Load:
    """The same load from Python (httpx, asyncio), which takes a core's worth of CPU from the server."""
    cpu_before = cpu_seconds(pids or [])
    latencies, errors, wall = asyncio.run(_python_load(url, path, bodies, connections, duration))
    cpu = cpu_seconds(pids or []) - cpu_before
    n = len(latencies)
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99)) if n else (0.0, 0.0)
    run = {"system": system, "scenario": scenario, "path": path, "workers": workers, "connections": connections}
    return _measured(run, "httpx", n, errors, wall, p50, p99, cpu if pids else None)
