"""Servers the benchmark starts on loopback: PlanQA, a bare FastAPI app, the LangChain baseline."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
UVICORN = ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def planqa_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers)]


def uvicorn_command(factory: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", "{port}", *UVICORN]


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    start_s: float  # process start to the first 200 from the ready path
    log: Path
    workers: int = 1
    peak: dict[int, int] = field(default_factory=dict)  # VmHWM (KiB) of every process seen
    anon: dict[int, int] = field(default_factory=dict)  # the largest RssAnon (KiB) sampled of every process

    def pids(self) -> list[int]:
        """The server's processes: the one started and its children (uvicorn's workers)."""
        found, i = [self.proc.pid], 0
        while i < len(found):
            pid, i = found[i], i + 1
            try:
                found += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                pass
        return found

    def worker_pids(self) -> list[int]:
        """The processes that answer: uvicorn's workers when there are several, else the one process."""
        pids = self.pids()
        return pids[1:] if self.workers > 1 and len(pids) > 1 else pids[:1]

    def sample_memory(self) -> None:
        for pid in self.worker_pids():
            kib = _status_kib(pid, "VmHWM")
            if kib:
                self.peak[pid] = max(self.peak.get(pid, 0), kib)
            anon = _status_kib(pid, "RssAnon")
            if anon:
                self.anon[pid] = max(self.anon.get(pid, 0), anon)

    def peak_rss_mib(self) -> float | None:
        """The largest peak resident size of one answering process, MiB."""
        self.sample_memory()
        return round(max(self.peak.values()) / 1024, 1) if self.peak else None

    def anon_mib(self) -> float | None:
        """The largest anonymous resident size sampled of one answering process, MiB: the memory the worker
        allocates itself. The rest of its RSS is the model and libraries mapped from their files — shared between
        workers, reclaimable, and larger right after an install, while those files' pages are cached in large
        blocks (a fresh clone measured 30 MiB more, all of it file-backed, until the page cache was dropped)."""
        self.sample_memory()
        return round(max(self.anon.values()) / 1024, 1) if self.anon else None

    def stop(self) -> None:
        self.sample_memory()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start(
    cmd: list[str], env: dict[str, str], ready: str = "/ready", workers: int = 1, timeout: float = 180.0
) -> Server:
    """Start a server on a free loopback port and wait for a 200 from ``ready`` (polled every 5 ms)."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="planqa-bench-", suffix=".log")[1])
    full_env = {**os.environ, **env, "PLANQA_HOST": "127.0.0.1", "PLANQA_PORT": str(port)}
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [c.replace("{port}", str(port)) for c in cmd], cwd=ROOT, env=full_env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
            try:
                if client.get(url + ready).status_code == 200:
                    return Server(proc, url, time.perf_counter() - started, log, workers)
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    proc.kill()
    raise RuntimeError(f"server did not answer {ready} within {timeout:.0f} s")
