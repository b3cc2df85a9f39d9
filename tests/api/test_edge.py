"""The edge layer (api/edge.py): fixed metric labels, the client's address behind proxies, failed keys counted
per address, and the body limit on chunked bodies. Each test here failed before the layer was rewritten."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.metrics import METHODS, UNMATCHED, route_templates
from api.security import TrustedProxies
from config.settings import Settings
from config.wiring import build_service
from index.store import PlanIndex

ASK = {"question": "谁负责近视防控?"}
_SERIES = re.compile(r'^planqa_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d+)"\}', re.M)


@pytest.fixture()
def edge_client(settings: Settings, plan_index: PlanIndex) -> Iterator[Callable[..., TestClient]]:
    """``edge_client(peer="203.0.113.9", **settings)``: a started app of its own, seen from ``peer``."""
    opened: list[TestClient] = []

    def make(peer: str = "198.51.100.7", **overrides: object) -> TestClient:
        s = settings.model_copy(update=overrides)
        client = TestClient(create_app(s, service=build_service(s, plan_index)), client=(peer, 40000))
        opened.append(client.__enter__())
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def _series(client: TestClient, headers: dict[str, str] | None = None) -> set[tuple[str, str, str]]:
    return set(_SERIES.findall(client.get("/metrics", headers=headers).text))


def test_metric_labels_come_from_a_fixed_set(edge_client):
    """Unknown paths refused before routing (401 without a key, 429 past the failed-key limit, 413 over the body
    limit) and made-up methods must not each become a new series (#13, item 1)."""
    keyed = edge_client(api_keys="k-one", rate_limit_auth_failures=5)
    open_ = edge_client(peer="198.51.100.8")  # no keys: /metrics open, and 404/405 reach the router

    def flood(start: int, stop: int) -> None:
        for i in range(start, stop):
            keyed.get(f"/no-such-{i}")  # 401, then 429 (too many wrong keys from this address)
            keyed.post(f"/big-{i}", content=b"x", headers={"content-length": str(10**9)})  # 413
            open_.request(f"MADEUP{i}", f"/odd-{i}")  # 404, with a method no one uses
            open_.request("BREW", "/ask")  # 405 on a real route

    flood(0, 40)
    _series(open_)  # the scrape counts itself too: from now on its series exists
    series = _series(open_)
    allowed = set(route_templates(open_.app.routes)) | {UNMATCHED}
    assert {route for _, route, _ in series} <= allowed
    assert {method for method, _, _ in series} <= METHODS | {"OTHER"}
    statuses = {(route, status) for _, route, status in series}
    assert {(UNMATCHED, "401"), (UNMATCHED, "429"), (UNMATCHED, "413"), (UNMATCHED, "404")} <= statuses
    assert ("/ask", "405") in statuses  # a refused request to a real route keeps its template
    flood(40, 80)
    assert _series(open_) == series  # more unknown paths and methods: not one series more


def test_early_refusals_on_a_real_route_are_labelled_with_its_template(edge_client):
    c = edge_client(api_keys="k-one")
    assert c.get("/tasks/8").status_code == 401
    series = _series(c, {"Authorization": "Bearer k-one"})
    assert ("GET", "/tasks/{number}", "401") in series


def test_forwarded_for_is_believed_only_from_trusted_proxies(edge_client):
    """Per-address limits behind a proxy (#13, item 8): each client behind a trusted proxy has its own bucket,
    and a client talking to us directly cannot pick its address by sending the header."""
    proxied = edge_client(peer="10.0.0.2", trusted_proxies="10.0.0.0/8", rate_limit_per_ip=2)
    alice, bob = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.6"}
    assert [proxied.get("/tasks/8", headers=alice).status_code for _ in range(3)] == [200, 200, 429]
    assert proxied.get("/tasks/8", headers=bob).status_code == 200  # another client: its own bucket
    # A client that forges a hop still gets the address the proxy saw (the rightmost untrusted one).
    forged = {"X-Forwarded-For": "198.18.0.1, 203.0.113.5"}
    assert proxied.get("/tasks/8", headers=forged).status_code == 429

    direct = edge_client(peer="198.51.100.7", trusted_proxies="10.0.0.0/8", rate_limit_per_ip=2)
    statuses = [direct.get("/tasks/8", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]  # the header from an untrusted peer is ignored: one bucket


def test_trusted_proxy_chain_resolution():
    proxies = TrustedProxies("10.0.0.0/8, 192.0.2.1")
    assert proxies.client("10.1.2.3", b"203.0.113.5") == "203.0.113.5"
    assert proxies.client("10.1.2.3", b"198.18.0.1, 203.0.113.5, 192.0.2.1") == "203.0.113.5"  # two proxies
    assert proxies.client("10.1.2.3", b"not-an-address, 203.0.113.5") == "203.0.113.5"
    assert proxies.client("10.1.2.3", b"203.0.113.5, garbage") == "10.1.2.3"  # only what proxies added counts
    assert proxies.client("10.1.2.3", b"10.4.4.4") == "10.4.4.4"  # all trusted: the furthest hop
    assert proxies.client("198.51.100.7", b"203.0.113.5") == "198.51.100.7"  # untrusted peer
    assert proxies.client("10.1.2.3", None) == "10.1.2.3"
    assert not TrustedProxies("") and TrustedProxies("::1").trusts("::1")
    with pytest.raises(ValueError):
        TrustedProxies("10.0.0.0/33")


def test_bad_trusted_proxies_setting_names_the_entry(settings):
    with pytest.raises(ValueError, match="PLANQA_TRUSTED_PROXIES.*nonsense"):
        Settings(index_dir=settings.index_dir, trusted_proxies="127.0.0.1, nonsense")


def test_failed_keys_are_counted_per_address(edge_client):
    """Key guessing is limited (#13, item 8): past the failed-key limit an address gets 429, even for a right
    key (its keys are no longer compared), while other addresses are unaffected."""
    c = edge_client(peer="198.51.100.7", api_keys="right-key", rate_limit_auth_failures=3, rate_limit_per_key=0)
    guesses = [c.get("/units", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(3)]
    assert guesses == [401, 401, 401]
    r = c.get("/units", headers={"Authorization": "Bearer right-key"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited" and r.headers["x-request-id"]
    assert c.get("/health").status_code == 200  # probes are never limited
    other = edge_client(peer="198.51.100.8", api_keys="right-key", rate_limit_auth_failures=3)
    assert other.get("/units", headers={"Authorization": "Bearer right-key"}).status_code == 200
    text = other.get("/metrics", headers={"Authorization": "Bearer right-key"}).text
    assert 'planqa_rate_limited_total{by="auth"}' in text


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    """A JSON body sent without a Content-Length (chunked transfer encoding)."""
    body = b'{"question": "' + b"a" * (total - 16) + b'"}'
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_oversized_chunked_body_is_413(client):
    """A chunked body over PLANQA_MAX_REQUEST_BYTES is refused with 413, like one with a Content-Length
    (#13, item 10); a small chunked body is answered as usual."""
    r = client.post("/ask", content=_chunks(200_000), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "request_too_large" and r.headers["x-request-id"]
    small = (b'{"question": "', "谁负责近视防控?".encode(), b'"}')
    ok = client.post("/ask", content=iter(small), headers={"content-type": "application/json"})
    assert ok.status_code == 200 and ok.json()["citations"][0]["task"] == 8


@pytest.mark.slow
def test_oversized_chunked_body_is_413_from_a_real_server(live_server: str):
    import httpx

    r = httpx.post(
        f"{live_server}/ask", content=_chunks(200_000), headers={"content-type": "application/json"}, timeout=10
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    small = iter([b'{"question": "', "第12项".encode(), b'"}'])
    ok = httpx.post(f"{live_server}/ask", content=small, headers={"content-type": "application/json"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["intent"] == "task"


def test_request_id_is_kept_on_every_refusal(edge_client):
    c = edge_client(api_keys="k")
    r = c.get("/tasks", headers={"X-Request-ID": "edge-1"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "edge-1"
    assert r.json()["error"]["request_id"] == "edge-1"
    r = c.post("/ask", content=b"{}", headers={"content-length": "999999", "X-Request-ID": "edge-2"})
    assert r.status_code == 413 and r.json()["error"]["request_id"] == "edge-2"
