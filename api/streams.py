"""Bounds on answers the LLM writes: how many at once, and how many per client.

With an LLM configured, an answer holds one of the server's worker threads while the model writes it (up to its
channel's budget, 20–30 s). Unbounded, a few dozen slow streams take every thread and every other route that
needs one stalls. So at most ``PLANQA_MAX_LLM_STREAMS`` answers are written at once (503 with ``Retry-After``
beyond), and at most ``PLANQA_MAX_STREAMS_PER_CLIENT`` for one client — its API key, or its address without
keys (429 with ``Retry-After`` beyond). An answer counts from the moment it is handed to the LLM until its
thread lets go of it, including after its reader has gone: a reader who leaves mid-stream stops the model at
its next token (``ReplyStream.cancel``), and only then is the place freed. Extractive answers are not counted:
they take milliseconds.

Routes take an ``Admission`` (``AdmissionDep``) and pass it to the answering service as ``admit``; the service
calls it only when the LLM is about to write. ``GuardedStream`` sends a stream's events and releases its place.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import ApiError
from api.security import bearer
from rag.limits import STREAMS_RETRY_AFTER_S
from rag.service import ReplyStream

log = logging.getLogger("planqa.api")


class StreamLimits:
    """Places for LLM answers: ``total`` at once, ``per_client`` at once per client (0: no per-client limit).
    Thread-safe: taken on the event loop or in a worker thread, released in either."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.active = 0
        self._by_client: dict[str, int] = {}  # only clients with a place: at most ``total`` entries
        self._lock = threading.Lock()

    def admission(self, client: str) -> Admission:
        return Admission(self, client)

    def _take(self, client: str) -> None:
        with self._lock:
            mine = self._by_client.get(client, 0)
            if self.per_client and mine >= self.per_client:
                raise ApiError(
                    429,
                    "too_many_streams",
                    f"您同时进行的回答已达上限（{self.per_client}个），请等当前回答结束后再试。"
                    f"Too many answers at once for this client ({self.per_client}, PLANQA_MAX_STREAMS_PER_CLIENT): "
                    "wait for one to finish.",
                    {"retry-after": str(STREAMS_RETRY_AFTER_S)},
                )
            if self.active >= self.total:
                raise ApiError(
                    503,
                    "busy",
                    f"服务器正忙，请{STREAMS_RETRY_AFTER_S}秒后再试。The server is busy: {self.total} answers are "
                    f"being written at once (PLANQA_MAX_LLM_STREAMS); retry after {STREAMS_RETRY_AFTER_S} s.",
                    {"retry-after": str(STREAMS_RETRY_AFTER_S)},
                )
            self.active += 1
            self._by_client[client] = mine + 1

    def _give_back(self, client: str) -> None:
        with self._lock:
            self.active -= 1
            left = self._by_client.pop(client) - 1
            if left:
                self._by_client[client] = left


class Admission:
    """One request's claim: calling it takes a place (or raises the 503 / 429); ``release`` gives it back,
    once, and does nothing when no place was taken."""

    def __init__(self, limits: StreamLimits, client: str) -> None:
        self._limits, self._client = limits, client
        self._held = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        self._limits._take(self._client)
        self._held = True

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._limits._give_back(self._client)


def client_of(request: Request) -> str:
    """Whom a request counts against: its API key when keys are set (the access layer has checked it),
    otherwise its address."""
    if request.app.state.settings.api_key_list:
        token = bearer(dict(request.scope.get("headers") or []))
        if token:
            return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    address = getattr(request.state, "client", None)  # the edge layer's, behind a trusted proxy too
    if address is None:
        address = request.client.host if request.client else "unknown"
    return f"ip:{address}"


def admission_for(request: Request) -> Admission:
    limits: StreamLimits = request.app.state.streams
    return limits.admission(client_of(request))


async def get_admission(request: Request) -> Admission:
    return admission_for(request)


AdmissionDep = Annotated[Admission, Depends(get_admission)]


class GuardedStream(StreamingResponse):
    """Server-sent events from ``events`` (a sync iterator; each step runs in a worker thread) for ``reply``.

    However the response ends — the last event sent, the reader gone, an error — the iterator is closed (which
    closes the LLM's HTTP stream) and the place released. A reader who leaves is logged (``stream_abandoned``)
    and marked in the request's log line."""

    def __init__(
        self,
        events: Iterator[str],
        reply: ReplyStream,
        admission: Admission,
        request: Request,
        headers: dict[str, str],
    ) -> None:
        self._events, self._reply, self._admission, self._request = events, reply, admission, request
        self._finished = False
        super().__init__(self._pump(), media_type="text/event-stream", headers=headers)

    async def _pump(self) -> AsyncIterator[str]:
        while True:
            event = await anyio.to_thread.run_sync(next, self._events, None)
            if event is None:
                self._finished = True
                return
            yield event

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await super().listen_for_disconnect(receive)
        self._reply.cancel()  # the thread may be waiting for the model: stop it at the next token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close)
            if not self._finished:
                request_id = getattr(self._request.state, "request_id", None)
                extra = {"event": "stream_abandoned", "request_id": request_id}
                log.info("stream abandoned by its reader", extra=extra)
                fields = getattr(self._request.state, "log_fields", {})
                self._request.state.log_fields = {**fields, "stream": "abandoned"}

    def _close(self) -> None:
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self._admission.release()
