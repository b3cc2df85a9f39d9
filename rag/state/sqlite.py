"""The SQLite store: one file in WAL mode, shared by the processes of one machine (``planqa serve --workers N``).

WAL lets readers go on while one process writes; every write is a single statement or one ``BEGIN IMMEDIATE``
transaction, so two processes never both claim a message or both take a token. ``synchronous=NORMAL``: a power
cut may lose the last moments' state (a conversation turn, a bucket), never corrupt the file — the state is
short-lived by nature. One connection per thread (a connection is not shared between threads). Expired rows are
swept, and each key space trimmed to its cap, at most once a ``SWEEP_S`` per process. Not for a network file
system: several machines share Redis instead.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import StateStoreError
from rag.state import StateStoreConfig
from rag.state.bucket import decode, encode, refill

SWEEP_S = 60.0
DEFAULT_PATH = Path("var") / "state.sqlite3"

_SCHEMA = "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL)"
_EXPIRES_INDEX = "CREATE INDEX IF NOT EXISTS state_expires ON state (expires)"
# A claim: insert, or replace a row that has expired; a live row stays (rowcount 0).
_ADD = (
    "INSERT INTO state (key, value, expires) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires WHERE state.expires <= ?"
)
_SET = "INSERT OR REPLACE INTO state (key, value, expires) VALUES (?, ?, ?)"


class SqliteStore:
    def __init__(self, config: StateStoreConfig | None = None, clock: Callable[[], float] | None = None) -> None:
        self.config = config or StateStoreConfig()
        self.path = Path(self.config.path or DEFAULT_PATH)
        self.clock = clock or time.time
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._step() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
                db.execute(_EXPIRES_INDEX)
        except OSError as e:
            raise self._error(e) from e

    def get(self, key: str) -> str | None:
        with self._step() as db:
            row = db.execute("SELECT value FROM state WHERE key = ? AND expires > ?", (key, self.clock())).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str, ttl: float) -> None:
        now = self.clock()
        with self._step() as db:
            db.execute(_SET, (key, value, now + ttl))
        self._sweep(now)

    def add(self, key: str, value: str, ttl: float) -> bool:
        now = self.clock()
        with self._step() as db:
            added = db.execute(_ADD, (key, value, now + ttl, now)).rowcount == 1
        self._sweep(now)
        return added

    def take(self, key: str) -> str | None:
        with self._step() as db:
            row = db.execute("DELETE FROM state WHERE key = ? RETURNING value, expires", (key,)).fetchone()
        return row[0] if row and row[1] > self.clock() else None

    def delete(self, key: str) -> None:
        with self._step() as db:
            db.execute("DELETE FROM state WHERE key = ?", (key,))

    def bucket(self, key: str, capacity: float, per_second: float, now: float, consume: bool = True) -> float:
        with self._step() as db:
            if consume:
                db.execute("BEGIN IMMEDIATE")  # the read and the write below, one process at a time
            try:
                row = db.execute(
                    "SELECT value FROM state WHERE key = ? AND expires > ?", (key, self.clock())
                ).fetchone()
                wait, state, full_in = refill(decode(row[0] if row else None), capacity, per_second, now, consume)
                if consume:
                    db.execute(_SET, (key, encode(state), self.clock() + full_in))
                    db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return wait

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # -- helpers --------------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # Autocommit (isolation_level None): each statement commits by itself; bucket() opens its own
            # transaction. The busy timeout is how long a writer waits for another process's write to finish.
            # Each connection is used by its own thread only; check_same_thread=False lets close() (any thread)
            # close them all.
            db = sqlite3.connect(
                self.path, timeout=self.config.timeout_s * 2.5, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _step(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db()
        except sqlite3.Error as e:
            raise self._error(e) from e

    def _error(self, e: Exception) -> StateStoreError:
        return StateStoreError(
            f"共享状态存储不可用：{self.path}（{e}）。The state store {self.path} failed ({e}): check that its folder "
            "is writable and on a local disk (PLANQA_STATE_PATH), or use Redis (PLANQA_REDIS_URL)."
        )

    def _sweep(self, now: float) -> None:
        """Forget expired rows, and trim each key space to its cap (the rows nearest expiry first: written
        longest ago, for a space with one time to live). At most once a SWEEP_S in this process."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_S
        with self._step() as db:
            db.execute("DELETE FROM state WHERE expires <= ?", (now,))
            spaces = db.execute(
                "SELECT substr(key, 1, instr(key, ':') - 1) AS space, count(*) FROM state GROUP BY space"
            ).fetchall()
            for space, count in spaces:
                excess = count - self.config.cap(f"{space}:")
                if excess > 0:
                    db.execute(
                        "DELETE FROM state WHERE key IN (SELECT key FROM state WHERE key >= ? AND key < ? "
                        "ORDER BY expires LIMIT ?)",
                        (f"{space}:", f"{space};", excess),  # ';' follows ':': the keys of this space
                    )


__all__ = ["DEFAULT_PATH", "SqliteStore"]
