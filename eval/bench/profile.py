"""Where a server's time goes under load: py-spy samples, summarised as the flame graph's top frames."""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_LOCATION = re.compile(r"\s*\((?:[^()]*/)?([^/()]+?):\d+\)$")
# Frames every stack shares (the interpreter, uvicorn's run loop): they say nothing about where time goes.
_SHARED = ("<module>", "_run_code", "_run_module_as_main", "run (", "main (", "cmd_serve", "Server.", "Runner.run")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


class Recording:
    """``py-spy record`` of ``pid`` for ``seconds``, started now (it samples while the load runs)."""

    def __init__(self, pid: int, seconds: float) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install py-spy (it is in the dev extra)")
        self.path = Path(tempfile.mkstemp(prefix="planqa-profile-", suffix=".txt")[1])
        cmd = [exe, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", "200"]
        cmd += ["-f", "raw", "-o", str(self.path), "--nonblocking"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def top(self, n: int = 15) -> dict[str, list[tuple[str, float]]]:
        """The ``n`` frames with the most samples on stack (inclusive) and at the top of the stack (self)."""
        self.proc.wait(timeout=120)
        inclusive: collections.Counter[str] = collections.Counter()
        own: collections.Counter[str] = collections.Counter()
        total = 0
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_LOCATION.sub(r" (\1)", f) for f in stack.split(";")]
            if any(f.startswith(("Thread._bootstrap", "WorkerThread.run")) for f in frames[:3]) and frames[
                -1
            ].startswith(("Condition.wait", "Queue.get", "Event.wait")):
                continue  # an idle worker thread waiting for work
            total += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
            own[frames[-1]] += int(count)
        self.path.unlink(missing_ok=True)
        if not total:
            return {"inclusive": [], "self": []}

        def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
            kept = [(f, c) for f, c in counter.most_common() if not f.startswith(_SHARED)]
            return [(f, round(100 * c / total, 1)) for f, c in kept[:n]]

        return {"inclusive": share(inclusive), "self": share(own)}
