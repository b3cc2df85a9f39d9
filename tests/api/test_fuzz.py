"""Property-based fuzzing of every HTTP route, generated from the app's own OpenAPI schema (schemathesis).

The app is the real one over the session's real index, with WeChat and WeCom configured so their routes are
reached (not answered 404), and with rate limits off (fuzzing from one address would otherwise meet 429s, a
response the middleware gives outside the schema); half the valid WeChat cases are signed with a fresh
timestamp so they reach the echo, decryption and XML parsing. Every generated request, valid or not, must get:
- no 5xx (``not_a_server_error``);
- a status code the route declares (``status_code_conformance``) with a body that matches the schema declared
  for it (``response_schema_conformance``) and the declared content type (``content_type_conformance``);
- an answer within ``HANG_S`` seconds (each call runs in a watched thread).

Bounded: ``MAX_EXAMPLES`` per route and phase, derandomised so CI runs the same cases every time. The number
of requests sent is printed at the end of the run (and written to ``tests/artifacts/fuzz.json``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from api.wechat.crypto import signature
from config.settings import Settings
from config.wiring import build_service
from index.store import PlanIndex

MAX_EXAMPLES = 40
HANG_S = 30.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

WECHAT_TOKEN = "fuzz-token"
CASES: Counter[str] = Counter()  # requests sent, per route
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzz_app(index_dir: Path, plan_index: PlanIndex):  # type: ignore[no-untyped-def]
    aes_key = base64.b64encode(bytes(range(32))).decode()[:-1]
    fuzz_settings = Settings(
        index_dir=index_dir,
        rebuild_index=False,
        rate_limit_per_ip=0,
        rate_limit_per_key=0,
        wechat_token=WECHAT_TOKEN,
        wechat_aes_key=aes_key,
        wechat_appid="wx0123456789abcdef",
        wecom_token=WECHAT_TOKEN,
        wecom_aes_key=aes_key,
        wecom_corpid="ww0123456789abcdef",
    )
    app = create_app(fuzz_settings, service=build_service(fuzz_settings, plan_index))
    with TestClient(app):  # runs the lifespan (app.state), as a server does before its first request
        yield app


@pytest.fixture(scope="module")
def operations(fuzz_app) -> list[Any]:  # type: ignore[no-untyped-def]
    """Every operation of the app's OpenAPI schema (fetched from ``/openapi.json`` like any client would)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    return [result.ok() for result in schema.get_all_operations()]


def _sign(case: Any, sign: bool) -> Any:
    """Half the WeChat cases carry a fresh timestamp and a valid signature, so they get past the replay and
    signature checks to the echo, the decryption and the XML parser (the body is not in the schema: empty)."""
    path = case.operation.path
    if not sign or path not in ("/wechat", "/wecom"):
        return case
    query = dict(case.query or {})
    timestamp, nonce = str(int(time.time())), str(query.get("nonce") or "1")
    query.update(timestamp=timestamp, nonce=nonce)
    if path == "/wechat":
        query["signature"] = signature(WECHAT_TOKEN, timestamp, nonce)
        if str(query.get("encrypt_type", "")).lower() == "aes":
            query["msg_signature"] = signature(WECHAT_TOKEN, timestamp, nonce, "")
    elif case.method.upper() == "GET":
        query["msg_signature"] = signature(WECHAT_TOKEN, timestamp, nonce, str(query.get("echostr", "")))
    else:
        query["msg_signature"] = signature(WECHAT_TOKEN, timestamp, nonce, "")
    case.query = query
    return case


def _strategy(operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
    strategy = operation.as_strategy(mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.tuples(strategy, st.booleans()).map(lambda pair: _sign(*pair))
    return strategy


def _call_watched(case: Any) -> Any:
    """``case.call()`` in a daemon thread: a request that never returns fails the test instead of hanging it."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = case.call()
        except BaseException as e:  # handed back to the test thread
            result["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_S)
    if worker.is_alive():
        raise AssertionError(f"{case.method} {case.formatted_path} did not answer within {HANG_S:.0f} s: {case!r}")
    if "error" in result:
        raise result["error"]
    CASES[f"{case.method} {case.operation.path}"] += 1
    STATUSES[result["response"].status_code] += 1
    return result["response"]


# schemathesis' own pytest integration (``from_fixture(...).parametrize()``) does not run under pytest 9, so
# each operation's strategy is driven by Hypothesis directly: positive (valid per the schema) and negative.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_route_survives_fuzzing(operations: list[Any], mode: GenerationMode) -> None:
    failures = []
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
        )
        @given(case=_strategy(operation, mode))
        def fuzz(case: Any) -> None:
            case.validate_response(_call_watched(case), checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:  # nothing to make invalid: no parameters and no body (GET /health, say)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (
            Exception,
            BaseExceptionGroup,
        ) as e:  # every operation gets fuzzed; all failures are reported together
            failures.append(f"{operation.label}: {''.join(traceback.format_exception_only(e))}")
    assert not failures, "\n\n".join(failures)


def test_fuzz_summary(request: pytest.FixtureRequest) -> None:
    """Runs after the fuzzing above (same module, later): every route was reached; the figures are printed."""
    if not CASES:
        pytest.skip("the fuzzing test did not run (deselected)")
    total = sum(CASES.values())
    routes = sorted(CASES)
    summary = {
        "requests": total,
        "routes": len(routes),
        "per_route": dict(sorted(CASES.items())),
        "statuses": {str(k): v for k, v in sorted(STATUSES.items())},
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fuzz.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nfuzz: {total} requests over {len(routes)} operations, statuses {summary['statuses']}")
    assert total > 0
