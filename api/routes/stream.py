"""POST /ask/stream: the answer as server-sent events, for the web page.

Events, in order: ``meta`` (everything of ``POST /ask`` but the text: intent, found, citations, highlight,
conversation fields), ``delta`` ``{"text": …}`` any number of times, then ``done`` ``{"answer", "elapsed_ms",
"answer_mode", "answer_mode_reason"}`` — or ``error`` ``{"error": {"code", "message", "request_id"}}`` if
producing the text fails midway. A question that cannot be answered at all (empty, too long) gets the usual
JSON error before any event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import ServiceDep
from api.errors import error_body
from api.logs import reply_fields
from api.schemas import AskRequest, AskResponse, error_responses
from api.sse import SSE_HEADERS, sse
from api.streams import AdmissionDep, GuardedStream
from index.errors import PlanQAError
from rag.service import Channel, ReplyStream

router = APIRouter(tags=["ask"])
log = logging.getLogger("planqa.api")
_RESPONSES = {
    200: {"content": {"text/event-stream": {}}, "description": "meta, delta…, done (or error) events"},
    **error_responses(400, 404, 413, 422),  # 400: a body that cannot be decoded at all (not UTF-8)
}


@router.post("/ask/stream", response_class=StreamingResponse, responses=_RESPONSES, summary="Answer as a stream")
def ask_stream(body: AskRequest, service: ServiceDep, request: Request, admission: AdmissionDep) -> StreamingResponse:
    """With an LLM configured, the answer takes one of the server's places for LLM answers while it is written:
    503 (or 429 for one client's own limit) with ``Retry-After`` when none is free."""
    started = time.perf_counter()
    stream = service.stream(body.question, channel=Channel.WEB, **body.options(started, admission))
    request.state.log_fields = reply_fields(stream.draft, body.question)
    events = _events(stream, started, request, body.question)
    return GuardedStream(events, stream, admission, request, SSE_HEADERS)


def _events(stream: ReplyStream, started: float, request: Request, question: str) -> Iterator[str]:
    request_id = getattr(request.state, "request_id", None)
    yield sse(AskResponse.of(stream.draft, 0.0).model_dump(exclude={"answer", "elapsed_ms"}), "meta")
    try:
        for piece in stream:
            yield sse({"text": piece}, "delta")
    except PlanQAError as e:
        yield sse(error_body("answer_failed", str(e), request_id), "error")
        return
    except Exception:
        log.exception("stream failed", extra={"request_id": request_id})
        message = "生成回答时出错，请重试。The answer failed midway: retry, or see the server log."
        yield sse(error_body("internal_error", message, request_id), "error")
        return
    assert stream.reply is not None
    request.state.log_fields = reply_fields(stream.reply, question)  # the access log is written after the body
    answer = stream.reply.answer
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    done = {"answer": answer.text, "elapsed_ms": elapsed, "answer_mode": answer.mode.value,
            "answer_mode_reason": answer.mode_reason}  # fmt: skip
    yield sse(done, "done")
