"""Shared fixtures: the real plan, the real embedding model, a real index, the app, a live server."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from config.settings import DEFAULT_CORPUS, ROOT, Settings
from config.wiring import build_service
from index.embeddings import PlanQAEmbeddings, load_embeddings
from index.model import Plan
from index.parse import parse_plan
from index.store import PlanIndex, build_index, corpus_title
from rag.service import AnsweringService
from tests.llm_server import llm_server  # noqa: F401  (session fixture: the local LLM, tests marked llm)
from tests.servers import free_port, remember_log, server_log_file, server_output, stop_server  # noqa: F401

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return DEFAULT_CORPUS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def plan(corpus_text: str) -> Plan:
    return parse_plan(corpus_text, title=corpus_title(DEFAULT_CORPUS))


@pytest.fixture(scope="session")
def embeddings() -> PlanQAEmbeddings:
    return load_embeddings()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def plan_index(corpus_text: str, index_dir: Path, embeddings: PlanQAEmbeddings) -> PlanIndex:
    """The bundled plan, indexed once for the whole session with the real model."""
    return build_index(corpus_text, corpus_title(DEFAULT_CORPUS), index_dir, embeddings)


@pytest.fixture(scope="session")
def fixture_index(tmp_path_factory: pytest.TempPathFactory, embeddings: PlanQAEmbeddings) -> Callable[[str], PlanIndex]:
    """``fixture_index("yunling-health-2023")``: a fixture plan of another issuer (eval/data/plans), read and
    indexed as ``planqa eval --plan`` does, once per session."""
    from eval.plans import index_plan

    built: dict[str, PlanIndex] = {}

    def get(plan_id: str) -> PlanIndex:
        if plan_id not in built:
            built[plan_id] = index_plan(plan_id, tmp_path_factory.mktemp(plan_id), embeddings)
        return built[plan_id]

    return get


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session, on a free loopback port; each test uses keys of its own."""
    from tests.redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def settings(index_dir: Path, plan_index: PlanIndex) -> Settings:
    # No rate limit for the shared test app: suites (the fuzzer above all) send hundreds of requests a minute
    # from one address. tests/api/test_ops.py turns the limits on where it tests them.
    return Settings(index_dir=index_dir, rebuild_index=False, rate_limit_per_ip=0)


@pytest.fixture(scope="session")
def service(settings: Settings, plan_index: PlanIndex) -> AnsweringService:
    """The answering service over the session's index, as the server builds it."""
    return build_service(settings, plan_index)


@pytest.fixture(scope="session")
def app(settings: Settings, service: AnsweringService):  # type: ignore[no-untyped-def]
    return create_app(settings, service=service)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def app_client(plan_index: PlanIndex) -> Iterator[Callable[..., TestClient]]:
    """A factory of started apps of their own (fresh state, given settings) over the session's index:
    ``app_client(settings)`` or ``app_client(settings, service=…)``; each is closed after the test."""
    opened: list[TestClient] = []

    def make(settings: Settings, service: AnsweringService | None = None) -> TestClient:
        app = create_app(settings, service=service or build_service(settings, plan_index))
        client = TestClient(app).__enter__()  # runs the lifespan, as a server does
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def start_server(
    env: dict[str, str], workers: int = 1, timeout: float = 60.0, log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``planqa serve`` (a real uvicorn) on a free loopback port; wait until /ready says ok.

    The server's output (its JSON log) goes into the file ``log``, or a temporary file of its own; read it with
    ``server_output(proc)``. Never a pipe: the server writes a line per request, and once a pipe nobody reads
    holds 64 KiB (about 220 requests) every write blocks, the event loop's access-log line first, and the
    server stops answering altogether."""
    port = free_port()
    env = with_own_state(env)
    full_env = {**os.environ, **env, "PLANQA_HOST": "127.0.0.1", "PLANQA_PORT": str(port)}
    log = log if log is not None else server_log_file()
    with open(log, "wb") as out:  # the child has its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers)],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    remember_log(proc, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server_output(proc)}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy in time")


def with_own_state(env: dict[str, str]) -> dict[str, str]:
    """``env`` with a SQLite state file of the server's own (several workers share one), unless it names one:
    never the checkout's var/, and never another test server's rate-limit buckets or conversations."""
    if "PLANQA_STATE_PATH" in env:
        return env
    return {**env, "PLANQA_STATE_PATH": str(Path(tempfile.mkdtemp(prefix="planqa-state-")) / "state.sqlite3")}


@pytest.fixture(scope="session")
def live_server(index_dir: Path, plan_index: PlanIndex) -> Iterator[str]:
    """A real uvicorn server on loopback serving the session's index; yields its base URL."""
    proc, url = start_server({"PLANQA_INDEX_DIR": str(index_dir), "PLANQA_REBUILD_INDEX": "false"})
    try:
        yield url
    finally:
        stop_server(proc)
