"""Two workers, one shared state store: ``planqa serve --workers 2`` with WeChat behaves as one server.

A real uvicorn with two worker processes, on SQLite (the default with several workers) and on a real
redis-server. WeChat's side is played by wechatpy (signing and encrypting what "WeChat" sends, decrypting what
comes back). The kernel hands each new connection to whichever worker accepts it first, so the tests cannot pick
a worker; they find out which worker served each request from the workers' own Prometheus files (one per
process, ``PROMETHEUS_MULTIPROC_DIR``), and repeat until the case they need has happened.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from api.metrics import settled_files
from api.wechat import replies as T
from config.settings import Settings
from config.wiring import plan_folder
from index.embeddings import PlanQAEmbeddings
from index.model import Plan
from tests.api.wechat_peer import AES_KEY, APPID, TOKEN, Platform, inbound
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

QUESTION = "第1项任务是什么"  # the long plan's first task: an answer of three WeChat messages
COPIES = 6  # one message delivered this many times at once: WeChat's retries, racing the first attempt


@dataclass(frozen=True)
class Replicas:
    backend: str
    url: str
    metrics: Path  # the workers' PROMETHEUS_MULTIPROC_DIR
    state: Path  # the SQLite store's file (sqlite)
    redis_url: str  # (redis)

    def counts(self, sample: str, **labels: str) -> Counter[int]:
        """``sample``'s value in each worker process (by pid), summed over the series matching ``labels``."""
        counts: Counter[int] = Counter()
        for db in settled_files(self.metrics, "counter"):
            pid = int(db.stem.rsplit("_", 1)[1])
            for key, value, *_ in MmapedDict.read_all_values_from_file(str(db)):
                _, name, series, _ = json.loads(key)
                if name == sample and all(series.get(k) == v for k, v in labels.items()):
                    counts[pid] += int(value)
        return counts

    def wechat_requests(self) -> Counter[int]:
        return self.counts("planqa_requests_total", route="/wechat")

    def served_since(self, before: Counter[int], requests: int) -> Counter[int]:
        """The /wechat requests each worker served since ``before``, once all ``requests`` are counted (a
        request is counted as its response finishes: just after the client has it)."""
        deadline = time.monotonic() + 10
        while True:
            delta = self.wechat_requests() - before
            if delta.total() >= requests or time.monotonic() > deadline:
                assert delta.total() == requests, delta
                return delta
            time.sleep(0.02)

    def send(self, xml: str) -> str:
        """One delivery of ``xml``, encrypted and signed by wechatpy on a connection of its own; the reply's
        text as wechatpy reads it (decrypted, its signature checked)."""
        with httpx.Client(base_url=self.url, timeout=15) as http:
            platform = Platform(http)
            return str(platform.open_reply(platform.post_aes(xml), platform.oa).content)

    def ask(self, user: str, text: str) -> tuple[str, int]:
        """A new message from ``user``: the reply, and the pid of the worker that served it."""
        before = self.wechat_requests()
        reply = self.send(inbound(user, Content=text))
        (pid,) = self.served_since(before, 1)
        return reply, pid


@pytest.fixture(scope="module")
def long_plans(tmp_path_factory: pytest.TempPathFactory, plan: Plan, embeddings: PlanQAEmbeddings) -> tuple[Path, Path]:
    """A plans folder with one plan whose first task joins four real task bodies (about 5 kB: three WeChat
    messages), indexed before the server starts (the workers only load it)."""
    folder, index = tmp_path_factory.mktemp("replica-plans"), tmp_path_factory.mktemp("replica-index")
    body = "".join(plan.task(n).body for n in (6, 8, 12, 5))  # type: ignore[union-attr]
    text = (
        "测试市教育局2024年工作要点\n一、测试部分\n"
        f"1.{body}(责任单位:基教科、计财科,各县区教育行政部门)\n2.{plan.task(7).text}\n"  # type: ignore[union-attr]
    )
    (folder / "long.txt").write_text(text, encoding="utf-8")
    plan_folder(Settings(plans=folder, index_dir=index)).load_all(embeddings, rebuild=True)
    return folder, index


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def replicas(
    request: pytest.FixtureRequest, long_plans: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    folder, index = long_plans
    tmp = tmp_path_factory.mktemp(f"replicas-{request.param}")
    (tmp / "metrics").mkdir()
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    env = {
        "PLANQA_PLANS": str(folder),
        "PLANQA_INDEX_DIR": str(index),
        "PLANQA_REBUILD_INDEX": "false",
        "PLANQA_WECHAT_TOKEN": TOKEN,
        "PLANQA_WECHAT_AES_KEY": AES_KEY,
        "PLANQA_WECHAT_APPID": APPID,
        "PLANQA_WECHAT_MODE": "safe",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "PLANQA_STATE_PATH": str(tmp / "state.sqlite3"),
        # The state store is not named: two workers choose SQLite, a Redis URL chooses Redis.
        **({"PLANQA_REDIS_URL": redis_url} if redis_url else {}),
    }
    proc, url = start_server(env, workers=2, log=tmp / "server.log")
    try:
        yield Replicas(request.param, url, tmp / "metrics", tmp / "state.sqlite3", redis_url)
    finally:
        stop_server(proc)


def test_a_message_retried_onto_both_workers_is_answered_once(replicas: Replicas) -> None:
    """The same message delivered six times at once, as WeChat's retries race the first attempt: the workers
    between them answer it once (one answer composed, five duplicates), and every delivery gets that answer's
    first part — until a round has been served by both workers."""
    for round_ in range(10):
        xml = inbound(f"oRetry{replicas.backend}", Content=QUESTION, msg_id=str(6_954_000_000_000_000_000 + round_))
        before = replicas.wechat_requests()
        answered = replicas.counts("planqa_wechat_deliveries_total", path="passive").total()
        duplicates = replicas.counts("planqa_wechat_duplicates_total").total()
        with ThreadPoolExecutor(COPIES) as pool:
            replies = list(pool.map(replicas.send, [xml] * COPIES))
        served = replicas.served_since(before, COPIES)
        assert len(set(replies)) == 1 and replies[0].endswith(T.MORE_HINT), replies
        assert "第1项" in replies[0]
        assert replicas.counts("planqa_wechat_deliveries_total", path="passive").total() == answered + 1
        assert replicas.counts("planqa_wechat_duplicates_total").total() == duplicates + COPIES - 1
        if len(served) == 2:
            break
    else:
        pytest.fail(f"ten rounds of {COPIES} concurrent deliveries never reached both workers")
    # The claims are in the store the settings name (not in each process).
    if replicas.backend == "redis":
        import redis

        with redis.Redis.from_url(replicas.redis_url) as client:
            assert list(client.scan_iter("planqa:wx-seen:wechat:*"))
    else:
        import sqlite3

        with sqlite3.connect(replicas.state) as db:
            assert db.execute("SELECT count(*) FROM state WHERE key LIKE 'wx-seen:wechat:%'").fetchone()[0] > 0


def test_more_and_follow_ups_continue_on_the_other_worker(replicas: Replicas, long_plans: tuple[Path, Path]) -> None:
    """「更多」 and a follow-up read what another worker stored: the continuation of a long answer, the task
    the conversation is about. Conversations are repeated (a new user each) until each has crossed workers."""
    more_crossed = follow_up_crossed = False
    for attempt in range(8):
        user = f"oMore{replicas.backend}{attempt}-{uuid.uuid4().hex[:6]}"
        first, stored_by = replicas.ask(user, QUESTION)
        parts = [first]
        while parts[-1].endswith(T.MORE_HINT):
            assert len(parts) < 10
            part, pid = replicas.ask(user, T.MORE)
            more_crossed |= pid != stored_by
            parts.append(part)
            stored_by = pid  # the rest, if any, is stored by the worker that sent this part
        assert len(parts) == 3 and all(len(p.encode()) <= T.MAX_BYTES for p in parts)
        whole = "".join(p.removesuffix(T.MORE_HINT) for p in parts).replace("\n", "")
        assert "责任单位：基教科（牵头）" in parts[0] and "各县区教育行政部门" in whole
        assert replicas.ask(user, T.MORE)[0] == T.NO_MORE

        task, asked_on = replicas.ask(user, "第2项任务是什么")
        original, pid = replicas.ask(user, "这项任务的原文")
        follow_up_crossed |= pid != asked_on
        assert "第2项" in task and "第2项" in original and "原文" in original
        if more_crossed and follow_up_crossed:
            break
    assert more_crossed, "no 「更多」 landed on the other worker in eight conversations"
    assert follow_up_crossed, "no follow-up landed on the other worker in eight conversations"
