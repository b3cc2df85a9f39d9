"""The shared state store: one suite every backend passes — memory, a real SQLite file, a real redis-server —
and, for the shared backends, the same claims, takes and buckets raced by several processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from index.errors import MissingDependencyError, StateStoreError, UnknownStateStoreError
from rag.state import STATE_STORES, StateStore, StateStoreConfig, open_state_store
from rag.state.sqlite import SqliteStore

BACKENDS = ["memory", "sqlite", "redis"]
SHARED = ["sqlite", "redis"]


def _config(backend: str, tmp_path: Path, request: pytest.FixtureRequest, **extra: object) -> StateStoreConfig:
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    # Each test its own keys on the session's redis-server.
    return StateStoreConfig(path=tmp_path / "state.sqlite3", url=url, key_prefix=f"t{uuid.uuid4().hex[:8]}:", **extra)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    opened = open_state_store(request.param, _config(request.param, tmp_path, request))
    yield opened
    opened.close()


def test_set_get_and_expiry(store: StateStore) -> None:
    store.set("turn:web:a", '第一轮 {"x": 1}', ttl=0.4)
    store.set("turn:web:b", "long", ttl=30)
    assert store.get("turn:web:a") == '第一轮 {"x": 1}' and store.get("turn:web:missing") is None
    store.set("turn:web:b", "replaced", ttl=30)
    assert store.get("turn:web:b") == "replaced"
    time.sleep(0.6)
    assert store.get("turn:web:a") is None and store.get("turn:web:b") == "replaced"


def test_add_claims_once_until_the_claim_expires(store: StateStore) -> None:
    assert store.add("wx-seen:wechat:id:1", "answering", ttl=0.4)
    assert not store.add("wx-seen:wechat:id:1", "answering", ttl=0.4)
    assert store.get("wx-seen:wechat:id:1") == "answering"
    time.sleep(0.6)
    assert store.add("wx-seen:wechat:id:1", "again", ttl=30)  # an expired claim is no claim
    assert store.get("wx-seen:wechat:id:1") == "again"


def test_take_gives_the_value_once(store: StateStore) -> None:
    store.set("wx-more:wechat:u", "其余部分", ttl=30)
    assert store.take("wx-more:wechat:u") == "其余部分"
    assert store.take("wx-more:wechat:u") is None and store.get("wx-more:wechat:u") is None
    store.set("wx-more:wechat:u", "expired", ttl=0.2)
    time.sleep(0.4)
    assert store.take("wx-more:wechat:u") is None


def test_delete(store: StateStore) -> None:
    store.set("plan:web:a", "qingshan-edu-2022", ttl=30)
    store.delete("plan:web:a")
    store.delete("plan:web:never-set")
    assert store.get("plan:web:a") is None


def test_large_and_unicode_values_round_trip(store: StateStore) -> None:
    value = "据《萍乡市教育局2021年工作要点》：\n" + "近视防控😀\u200b" * 20_000
    store.set("turn:web:big", value, ttl=30)
    assert store.get("turn:web:big") == value


def test_token_bucket_gives_the_same_waits_on_every_backend(store: StateStore) -> None:
    """Capacity 3, one token a second: the arithmetic of rag/state/bucket.py, in Python or in Redis's Lua."""
    key, now = "rate:ip:10.0.0.1", 1_000_000.0
    assert [store.bucket(key, 3, 1.0, now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert store.bucket(key, 3, 1.0, now) == pytest.approx(1.0)
    assert store.bucket(key, 3, 1.0, now + 0.25, consume=False) == pytest.approx(0.75)
    assert store.bucket(key, 3, 1.0, now + 0.25, consume=False) == pytest.approx(0.75)  # wait takes nothing
    assert store.bucket(key, 3, 1.0, now + 1.0) == 0.0
    assert store.bucket(key, 3, 1.0, now + 1.0) == pytest.approx(1.0)
    assert store.bucket(key, 3, 1.0, now - 50) == pytest.approx(1.0)  # a clock stepping back adds nothing,
    assert store.bucket(key, 3, 1.0, now + 1.0) == pytest.approx(1.0)  # nor does it catching up again
    assert store.bucket("rate:ip:10.0.0.2", 3, 1.0, now) == 0.0  # buckets are per key
    assert store.bucket(key, 3, 1.0, now + 100) == 0.0  # refilled, never beyond capacity:
    assert [store.bucket(key, 3, 1.0, now + 100) for _ in range(3)][-1] == pytest.approx(1.0)


def test_threads_claim_and_take_each_key_once(store: StateStore) -> None:
    keys = [f"wx-seen:wechat:id:{n}" for n in range(40)]

    def claim_all(_: int) -> list[str]:
        return [k for k in keys if store.add(k, "answering", ttl=30)]

    with ThreadPoolExecutor(8) as pool:
        claimed = [k for got in pool.map(claim_all, range(8)) for k in got]
    assert sorted(claimed) == sorted(keys)
    for k in keys:
        store.set(k.replace("wx-seen", "wx-more"), k, ttl=30)

    def take_all(_: int) -> list[str]:
        return [v for k in keys if (v := store.take(k.replace("wx-seen", "wx-more"))) is not None]

    with ThreadPoolExecutor(8) as pool:
        taken = [v for got in pool.map(take_all, range(8)) for v in got]
    assert sorted(taken) == sorted(keys)


# --- several processes on one store (the shared backends) -----------------------------------------------------


def _race(
    backend: str, config: StateStoreConfig, ready: Any, out: Any, keys: list[str], bucket: str, takes: int
) -> None:
    """In a process of its own: claim every key, take every key's value, take ``takes`` tokens of one bucket —
    all processes starting together (``ready``, a barrier), so they race. The result goes to ``out``."""
    opened = open_state_store(backend, config)
    ready.wait(60)
    claimed = [k for k in keys if opened.add(f"wx-seen:wechat:{k}", "answering", ttl=60)]
    taken = [v for k in keys if (v := opened.take(f"wx-more:wechat:{k}")) is not None]
    granted = sum(opened.bucket(bucket, 20, 0.001, time.time()) == 0.0 for _ in range(takes))
    opened.close()
    out.put({"claimed": claimed, "taken": taken, "granted": granted})


@pytest.mark.parametrize("backend", SHARED)
def test_processes_claim_take_and_count_each_thing_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four processes race on one store: every message is claimed by exactly one, every continuation taken by
    exactly one, and a bucket of 20 grants 20 tokens in all (40 asked for)."""
    config = _config(backend, tmp_path, request)
    keys = [f"id:{n}" for n in range(300)]
    setup = open_state_store(backend, config)
    for k in keys:
        setup.set(f"wx-more:wechat:{k}", k, ttl=60)
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Barrier(4), ctx.Queue()
    workers = [
        ctx.Process(target=_race, args=(backend, config, ready, out, keys, "rate:wx-wechat:u", 10)) for _ in range(4)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=90) for _ in workers]
    for w in workers:
        w.join(10)
        assert w.exitcode == 0
    assert sorted(k for r in results for k in r["claimed"]) == sorted(keys)
    assert sorted(v for r in results for v in r["taken"]) == sorted(keys)
    assert sum(r["granted"] for r in results) == 20
    setup.close()


# --- each backend's own behaviour ----------------------------------------------------------------------------


def test_an_unknown_store_names_the_valid_ones() -> None:
    with pytest.raises(UnknownStateStoreError, match="memory, sqlite, redis"):
        open_state_store("memcached")
    assert set(STATE_STORES) == set(BACKENDS)


def test_a_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now fails, as without the package
    with pytest.raises(MissingDependencyError, match=r"\[redis\]"):
        open_state_store("redis", StateStoreConfig(url="redis://127.0.0.1:1/0"))


def test_an_unreachable_redis_is_a_state_store_error_not_a_hang() -> None:
    from tests.servers import free_port

    store = open_state_store("redis", StateStoreConfig(url=f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5))
    started = time.monotonic()
    with pytest.raises(StateStoreError, match="PLANQA_REDIS_URL"):
        store.get("turn:web:a")
    assert time.monotonic() - started < 5


def test_sqlite_is_a_wal_file_and_an_unwritable_path_says_what_to_do(tmp_path: Path) -> None:
    SqliteStore(StateStoreConfig(path=tmp_path / "sub" / "state.sqlite3")).set("turn:web:a", "x", 30)
    with sqlite3.connect(tmp_path / "sub" / "state.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateStoreError, match="PLANQA_STATE_PATH"):
        SqliteStore(StateStoreConfig(path=blocker / "state.sqlite3"))


def test_sqlite_forgets_expired_rows_and_keeps_each_space_to_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(StateStoreConfig(path=path, caps={"turn": 5}))
    for n in range(10):
        store.set(f"turn:web:c{n}", str(n), ttl=100 + n)  # written later, expiring later
    store.set("plan:web:gone", "x", ttl=0.01)
    time.sleep(0.05)
    store._next_sweep = 0.0  # the next write sweeps (at most once a minute otherwise)
    store.set("plan:web:kept", "y", ttl=100)
    with sqlite3.connect(path) as db:
        keys = sorted(k for (k,) in db.execute("SELECT key FROM state"))
    assert keys == ["plan:web:kept", *[f"turn:web:c{n}" for n in range(5, 10)]]


def test_memory_keeps_each_space_to_its_cap() -> None:
    store = open_state_store("memory", StateStoreConfig(caps={"turn": 3}, default_cap=100))
    for n in range(5):
        store.set(f"turn:web:c{n}", str(n), ttl=100)
        store.set(f"rate:ip:{n}", str(n), ttl=100)
    assert [store.get(f"turn:web:c{n}") for n in range(5)] == [None, None, "2", "3", "4"]
    assert all(store.get(f"rate:ip:{n}") == str(n) for n in range(5))  # another space, its own bound
