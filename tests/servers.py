"""Processes the tests start: a free loopback port, and stopping a server the way an operator would."""

from __future__ import annotations

import contextlib
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_server(proc: subprocess.Popen[bytes], grace: float = 15.0) -> int:
    """SIGTERM, as an operator's stop does; SIGKILL if the process is still there after ``grace`` seconds.
    Returns the exit status."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout=grace)
    proc.kill()
    return proc.wait()
