"""ASGI middleware: request ids, structured access logs, and the request-size limit."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.errors import error_bytes

log = logging.getLogger("planqa.access")
_SAFE_ID = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _error(status: int, code: str, message: str, request_id: str) -> tuple[dict[str, object], bytes]:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())],
    }
    return start, error_bytes(code, message, request_id)


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-ID``, taken from the client when sane), refuses bodies over
    ``max_body`` bytes with 413 before reading them whole, and logs one JSON line per request."""

    def __init__(self, app: ASGIApp, max_body: int, log_questions: bool = False) -> None:
        self.app, self.max_body, self.log_questions = app, max_body, log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 64 and set(given) <= _SAFE_ID else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        too_large_msg = f"请求内容过大（上限{self.max_body}字节）。Request body over {self.max_body} bytes."

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            start, body = _error(413, "request_too_large", too_large_msg, request_id)
            await send(start)
            await send({"type": "http.response.body", "body": body})
            self._log(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            status = 413
            start, body = _error(413, "request_too_large", too_large_msg, request_id)
            await send(start)
            await send({"type": "http.response.body", "body": body})
        finally:
            self._log(scope, status, started, request_id)

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        """One JSON line and the metrics for a finished request. Routes add fields through
        ``request.state.log_fields`` (intent, found, answer mode, …); a "question" field is dropped unless
        PLANQA_LOG_QUESTIONS=1, since teachers' questions can be personal."""
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None) or ("unmatched" if status == 404 else scope.get("path", ""))
        fields = dict(scope.get("state", {}).get("log_fields", {}))
        if not self.log_questions:
            fields.pop("question", None)
        metrics.observe_request(route, scope.get("method", ""), status, seconds)
        if "intent" in fields and "found" in fields:
            metrics.ANSWERS.labels(str(fields["intent"]), str(fields["found"]).lower()).inc()
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope.get("method"),
                "route": route,
                "path": scope.get("path"),
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
                **fields,
            },
        )


class _BodyTooLarge(Exception):
    pass
