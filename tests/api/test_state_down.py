"""The shared state store unreachable (a Redis that is not there): the service says so with 503s and a reason —
/ready, the API, WeChat — never a 500 or a hang, and recovers by itself when the store is back."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from config.wiring import build_service
from index.store import PlanIndex
from tests.api.wechat_peer import Platform, inbound, wechat_settings
from tests.redis_server import redis_server
from tests.servers import free_port


def test_a_redis_that_is_not_there_is_a_503_that_says_so(
    index_dir: Path, plan_index: PlanIndex, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    settings = wechat_settings(index_dir, redis_url=f"redis://127.0.0.1:{port}/0", rate_limit_per_ip=100)
    app = create_app(settings, service=build_service(settings, plan_index))
    with TestClient(app) as client:
        started = time.monotonic()
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "state_unavailable"
        ask = client.post("/ask", json={"question": "谁负责近视防控?"})
        assert ask.status_code == 503 and ask.headers["retry-after"] == "5"
        assert "PLANQA_REDIS_URL" in ask.text and "共享状态存储不可用" in ask.text
        wechat = Platform(client).post_aes(inbound("oDown", Content="谁负责近视防控?"))
        assert wechat.status_code == 503 and "PLANQA_REDIS_URL" in wechat.text  # WeChat retries it
        assert time.monotonic() - started < 30  # refused connections: no waiting out timeouts

        with redis_server(tmp_path, port=port):  # the store comes back: the same app answers
            assert client.get("/ready").status_code == 200
            assert client.post("/ask", json={"question": "谁负责近视防控?"}).status_code == 200
            reply = Platform(client).post_aes(inbound("oDown", Content="谁负责近视防控?"))
            assert reply.status_code == 200 and "Encrypt" in reply.text
