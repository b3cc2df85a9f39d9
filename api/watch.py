"""Following the plans folder while serving: another process (``planqa plans add``, another worker's
``POST /plans``) may add or remove a plan; each server process notices within ``PLANS_POLL_S`` and loads it.

A thread of its own, so no request ever waits for a plan to load; the library's shelf is replaced whole when it
has (``LibraryService.refresh``).
"""

from __future__ import annotations

import logging
import threading

from index.errors import PlanQAError
from rag.library import LibraryService
from rag.limits import PLANS_POLL_S

log = logging.getLogger("planqa.api")


class PlanWatcher:
    def __init__(self, library: LibraryService, interval: float = PLANS_POLL_S) -> None:
        self.library, self.interval = library, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="planqa-plan-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.library.refresh():
                    log.info(
                        "plans reloaded", extra={"event": "plans_reloaded", "plans": [m.id for m in self.library.plans]}
                    )
            except PlanQAError as e:  # a bad file dropped in the folder: say so, keep serving what is loaded
                log.error(str(e), extra={"event": "plans_reload_failed"})
            except OSError as e:
                log.error(f"plans folder unreadable: {e}", extra={"event": "plans_reload_failed"})
