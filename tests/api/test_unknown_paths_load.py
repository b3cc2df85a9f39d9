"""#13, item 1, under load: 100,000 requests to random unknown paths, with made-up methods, refused before
any route runs (401 for a missing key, then 429 once the address has failed too often), leave ``/metrics`` and
the server's memory where they were (within 1 %, after a warm-up of 10,000). wrk (Debian;
scripts/system-deps.sh installs it) sends them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from config.settings import ROOT
from index.store import PlanIndex
from tests.servers import free_port, stop_server

FLOOD = 100_000
WARM_UP = 10_000
KEY = {"Authorization": "Bearer the-key"}
# Methods httptools accepts beside the usual ones (a made-up token is refused by the parser, before the app).
_LUA = r"""
local methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "M-SEARCH", "PURGE", "MKCOL"}
local target = @TARGET@
sent, got, statuses = 0, 0, {}
request = function()
  sent = sent + 1
  local path = string.format("/no-such-%d/%d", math.random(1, 1000000000), sent)
  return wrk.format(methods[sent % #methods + 1], path, {["X-Forwarded-For"] = "198.51.100.77"})
end
response = function(status, headers, body)
  got = got + 1
  statuses[status] = (statuses[status] or 0) + 1
  if got == target then
    local parts = {}
    for s, n in pairs(statuses) do table.insert(parts, s .. "=" .. n) end
    io.write("FLOOD-DONE " .. table.concat(parts, ",") .. "\n")
    io.flush()
    wrk.thread:stop()
  end
end
"""
_SERIES = re.compile(r"^(planqa_[a-z_]+(?:\{[^}]*\})?) ", re.M)


def _flood(url: str, requests: int) -> dict[str, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA.replace("@TARGET@", str(requests)))
    try:
        proc = subprocess.Popen(["wrk", "-t1", "-c16", "-d300s", "-s", f.name, url], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        statuses: dict[str, int] = {}
        for line in proc.stdout:
            if line.startswith("FLOOD-DONE"):
                statuses = dict(item.split("=") for item in line.split()[1].split(","))  # type: ignore[misc]
                proc.send_signal(2)  # SIGINT: wrk stops and reports
        proc.wait(30)
    finally:
        os.unlink(f.name)
    return {k: int(v) for k, v in statuses.items()}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _metrics(url: str) -> str:
    r = httpx.get(f"{url}/metrics", headers=KEY, timeout=10)
    assert r.status_code == 200, r.text
    return r.text


@pytest.mark.slow
def test_random_unknown_paths_leave_metrics_and_memory_as_they_were(index_dir: Path, plan_index: PlanIndex):
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: run `bash scripts/system-deps.sh` as root (make test does)")
    port = free_port()
    env = {
        **os.environ,
        "PLANQA_INDEX_DIR": str(index_dir),
        "PLANQA_REBUILD_INDEX": "false",
        "PLANQA_PORT": str(port),
        "PLANQA_API_KEYS": "the-key",
        "PLANQA_RATE_LIMIT_AUTH_FAILURES": "10",
        "PLANQA_TRUSTED_PROXIES": "127.0.0.1",  # the flood comes "through a proxy" as 198.51.100.77
    }
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
            warm = _flood(url, WARM_UP)
            assert set(warm) <= {"401", "429"} and warm.get("429", 0) > 0, warm
            _metrics(url)  # a scrape is counted too: from the second one on, its series exist
            before_text, before_rss = _metrics(url), _rss_kib(proc.pid)
            flood = _flood(url, FLOOD)
            after_text, after_rss = _metrics(url), _rss_kib(proc.pid)
        finally:
            stop_server(proc)
        log.seek(0, os.SEEK_END)
        log.seek(max(0, log.tell() - 4096))
        tail = [json.loads(x) for x in log.read().decode().splitlines()[1:] if x.startswith("{")]
    print(f"\nunknown paths: {flood}; /metrics {len(before_text)} -> {len(after_text)} bytes; "
          f"RSS {before_rss} -> {after_rss} KiB")  # fmt: skip
    # The address stays blocked: 429, but for the odd 401 when its failed-key bucket has refilled a token.
    assert sum(flood.values()) >= FLOOD and set(flood) <= {"401", "429"} and flood["429"] > 0.99 * FLOOD, flood
    assert set(_SERIES.findall(after_text)) == set(_SERIES.findall(before_text))  # not one series more
    assert abs(len(after_text) - len(before_text)) <= 0.01 * len(before_text)
    assert abs(after_rss - before_rss) <= 0.01 * before_rss, (before_rss, after_rss)
    assert "/no-such-" not in after_text and "PROPFIND" not in after_text
    flood_lines = [x for x in tail if x["logger"] == "planqa.access" and x["path"].startswith("/no-such-")]
    assert flood_lines and all(x["route"] == "unmatched" and x["status"] in (401, 429) for x in flood_lines)
