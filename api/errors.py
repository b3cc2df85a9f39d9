"""Error responses: one JSON shape, a Chinese-and-English message, the request id. Never a bare 500.

``error_body`` is the one place the shape is written: the exception handlers below and the edge layer's
refusals (413, 401, 429: ``send_error``) all send it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Send

from api.render import Json, dumps
from index.errors import (
    DocumentError,
    IndexCorruptError,
    IndexMissingError,
    IndexStaleError,
    IndexWriteError,
    InvalidQuestionError,
    PlanConflictError,
    PlanNotFoundError,
    PlanParseError,
    PlanQAError,
    StateStoreError,
    UnsupportedFormatError,
)

log = logging.getLogger("planqa.api")

_HTTP_MESSAGES = {
    400: "请求内容无法解析，请发送UTF-8编码的JSON。Malformed request body: send UTF-8 encoded JSON.",
    404: "找不到该地址。Not found: see /docs for the API.",
    405: "不支持该请求方法。Method not allowed: see /docs for the API.",
    413: "请求内容过大。Request body too large.",
}


# The client went away before its request was read whole (nginx's 499): the status the access log and the
# metrics show; nobody receives the response.
CLIENT_CLOSED = 499
_CLIENT_CLOSED_MESSAGE = "客户端在请求发送完之前断开。The client closed the connection before its request was whole."


class ApiError(Exception):
    """An error a route raises on purpose, with its status and bilingual message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str, request_id: str | None) -> dict[str, dict[str, str | None]]:
    """``{"error": {"code", "message", "request_id"}}``: every error PlanQA's HTTP API sends."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send ``error_body`` as a whole response, for the edge layer, which answers before any route runs."""
    body = dumps(error_body(code, message, request_id))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Json:
    body = error_body(code, message, getattr(request.state, "request_id", None))
    return Json(body, status_code=status, headers=headers)


def _status_of(e: PlanQAError) -> tuple[int, str]:
    if isinstance(e, InvalidQuestionError):
        return 422, "invalid_question"
    if isinstance(e, PlanNotFoundError):
        return 404, "plan_not_found"
    if isinstance(e, PlanConflictError):
        return 409, "plan_conflict"
    if isinstance(e, IndexMissingError | IndexStaleError | IndexCorruptError | IndexWriteError):
        return 503, "index_unavailable"
    if isinstance(e, StateStoreError):
        return 503, "state_unavailable"
    if isinstance(e, UnsupportedFormatError):
        return 415, "unsupported_plan_format"
    if isinstance(e, DocumentError | PlanParseError):
        return 422, "invalid_plan"
    return 400, "bad_request"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "请求格式不正确，请检查参数。Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Json:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(PlanQAError)
    async def _planqa_error(request: Request, exc: PlanQAError) -> Json:
        status, code = _status_of(exc)
        return error_response(request, status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Json:
        return error_response(request, 422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Json:
        if isinstance(exc.__cause__, ClientDisconnect):  # not a bad body: the client left while sending it
            return error_response(request, CLIENT_CLOSED, "client_closed_request", _CLIENT_CLOSED_MESSAGE)
        message = _HTTP_MESSAGES.get(exc.status_code, f"请求错误。{exc.detail}")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, f"http_{exc.status_code}", message, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Json:
        log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
        return error_response(
            request, 500, "internal_error", "服务内部错误，请联系管理员。Internal error: see the server log."
        )
