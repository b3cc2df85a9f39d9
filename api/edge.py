"""The edge: one pure-ASGI layer in front of every route, doing once per request what the server owes it.

In order:
1. a request id (``X-Request-ID``, the client's when sane, else made here), on the response and in
   ``request.state.request_id``;
2. the body limit: a declared ``Content-Length`` over ``PLANQA_MAX_REQUEST_BYTES`` is refused (413) before
   anything is read; a body without one (chunked) is read here, up to the limit, and refused (413) past it. A plan
   upload (``POST /plans``) carrying an admin key may be as large as a plan file may be (``UPLOAD_BODY_BYTES``):
   a plan as .docx or .pdf is rarely under 64 KiB; without an admin key it has the usual limit, so nobody else can
   make the server read megabytes;
3. access (``api/security.py``): the client's address (trusted proxies; also ``request.state.client``), API
   keys, rate limits — 401 or 429, except on the exempt routes;
4. when the response is done: the metrics (labels from a fixed set, ``api/metrics.py``) and one JSON line in
   the access log (``api/logs.py``), with the fields the route set in ``request.state.log_fields``.

Refusals are the usual JSON error (``api/errors.py``). Nothing here blocks, and nothing runs per request that
could run once.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import CLIENT_CLOSED, send_error
from api.logs import AccessLog
from api.metrics import Recorder, RouteLabels, method_label
from api.security import AccessControl, Refusal, TrustedProxies, bearer, is_exempt, key_matches
from index.errors import StateStoreError
from index.readers import MAX_FILE_BYTES

_SAFE_ID = re.compile(rb"[A-Za-z0-9_.\-]{1,64}")

_MAX_LOGGED_PATH = 1000
UPLOAD_PATH = "/plans"
UPLOAD_BODY_BYTES = MAX_FILE_BYTES + 64 * 1024  # the largest plan file, and the multipart form around it


def too_large_message(limit: int) -> str:
    return f"请求内容过大（上限{limit}字节）。Request body over {limit} bytes."


class RequestIds:
    """Ids unique in this process and across processes: a random prefix and a counter (no syscall a request)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        access: AccessControl,
        proxies: TrustedProxies,
        log: AccessLog,
        routes: Callable[[], Iterable[str]],
        admin_keys: tuple[str, ...] = (),
    ) -> None:
        self.app, self.max_body, self.access, self.proxies, self.log = app, max_body, access, proxies, log
        self.admin_keys = admin_keys
        self.recorder = Recorder()
        self.new_id = RequestIds()
        self._templates = routes
        self._labels: RouteLabels | None = None
        self._checks_access = bool(access.keys or access.by_ip or access.by_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        given = headers.get(b"x-request-id")
        request_id = given.decode() if given is not None and _SAFE_ID.fullmatch(given) else self.new_id()
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["request_id"] = request_id
        state["arrived"] = started  # monotonic: WeChat's reply budget counts from here (request.state.arrived)
        id_header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        refused_by: str | None = None
        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                refused_by = refusal.limited_by
                await send_error(
                    send_with_id, refusal.status, refusal.code, refusal.message, request_id, refusal.headers
                )
                return
            if b"transfer-encoding" in headers:  # no length given: read the body here, within the limit
                limit = self._body_limit(scope, headers)
                body = await _read_body(receive, limit)
                if body is None:
                    message = too_large_message(limit)
                    await send_error(send_with_id, 413, "request_too_large", message, request_id)
                    return
                if isinstance(body, int):
                    status = body
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_with_id)
        finally:
            self._finish(scope, state, status or 500, started, request_id, refused_by)

    def _body_limit(self, scope: Scope, headers: dict[bytes, bytes]) -> int:
        """The usual limit; a plan file's for an upload with an admin key."""
        if scope["path"] == UPLOAD_PATH and scope["method"] == "POST" and self.admin_keys:
            token = bearer(headers)
            if token and key_matches(token, self.admin_keys):
                return max(self.max_body, UPLOAD_BODY_BYTES)
        return self.max_body

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            limit = self._body_limit(scope, headers)
            if not declared.isdigit() or int(declared) > limit:
                return Refusal(413, "request_too_large", too_large_message(limit), ())
        peer = scope.get("client")
        client = self.proxies.client(peer[0] if peer else "unknown", headers.get(b"x-forwarded-for"))
        scope["state"]["client"] = client  # the client's address for the routes too (request.state.client)
        if not self._checks_access or is_exempt(scope["path"]):
            return None
        try:
            return self.access.check(bearer(headers), client)
        except StateStoreError as e:  # the rate limits cannot be counted: refuse for now, say why, retry later
            return Refusal(503, "state_unavailable", str(e), ((b"retry-after", b"5"),))

    def _finish(
        self, scope: Scope, state: dict[str, Any], status: int, started: float, request_id: str, refused_by: str | None
    ) -> None:
        seconds = time.monotonic() - started
        if self._labels is None:
            self._labels = RouteLabels(self._templates())
        route = self._labels(scope["path"])
        self.recorder.request(route, method_label(scope["method"]), status, seconds)
        if refused_by is not None:
            self.recorder.rate_limited(refused_by)
        fields: dict[str, object] | None = state.get("log_fields")
        if fields and "intent" in fields and "found" in fields:
            self.recorder.answer(fields["intent"], fields["found"])
        if self.log.enabled():
            line: dict[str, object] = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "path": scope["path"][:_MAX_LOGGED_PATH],
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
            }
            if fields:
                line.update(fields)
            self.log.line(line)


async def _read_body(receive: Receive, limit: int) -> bytes | int | None:
    """The whole body; None when it grows past ``limit`` bytes; 499 when the client hangs up first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return CLIENT_CLOSED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then whatever the client sends next (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
