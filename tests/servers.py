"""Processes the tests start: a free loopback port, where a server's output goes, and stopping a server the way an
operator would."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
from pathlib import Path

# Each server's output file, by process id. Files (never pipes: a server blocks once a pipe nobody reads is full)
# in one folder per test process, removed when it exits.
_LOGS: dict[int, Path] = {}
_FOLDER: list[tempfile.TemporaryDirectory[str]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_log_file() -> Path:
    """A fresh file for a server's output."""
    if not _FOLDER:
        _FOLDER.append(tempfile.TemporaryDirectory(prefix="planqa-servers-"))
    fd, name = tempfile.mkstemp(prefix="server-", suffix=".log", dir=_FOLDER[0].name)
    with open(fd, "wb"):
        pass
    return Path(name)


def remember_log(proc: subprocess.Popen[bytes], log: Path) -> None:
    _LOGS[proc.pid] = log


def server_output(proc: subprocess.Popen[bytes]) -> str:
    """Everything the server ``proc`` has written so far (its JSON log lines)."""
    log = _LOGS.get(proc.pid)
    return log.read_bytes().decode(errors="replace") if log is not None and log.exists() else ""


def stop_server(proc: subprocess.Popen[bytes], grace: float = 15.0) -> int:
    """SIGTERM, as an operator's stop does; SIGKILL if the process is still there after ``grace`` seconds.
    Returns the exit status."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout=grace)
    proc.kill()
    return proc.wait()
