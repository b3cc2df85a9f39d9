"""POST /ask/stream: the answer as server-sent events, for the web page.

Events, in order: ``meta`` (everything of ``POST /ask`` but the text: intent, found, citations, highlight,
conversation fields), ``delta`` ``{"text": …}`` any number of times, then ``done`` ``{"answer", "elapsed_ms"}``
— or ``error`` ``{"error": {"code", "message", "request_id"}}`` if producing the text fails midway. A question
that cannot be answered at all (empty, too long) gets the usual JSON error before any event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.chat import SSE_HEADERS, answer_turn, ask_response, sse, text_source_for
from api.deps import IndexDep, SettingsDep
from api.llm import stream_mode
from api.schemas import AskRequest, ErrorOut
from rag.errors import PlanQAError

router = APIRouter(tags=["ask"])
log = logging.getLogger("planqa.api")
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "meta, delta…, done (or error) events"},
    400: {"model": ErrorOut},  # a body that cannot be decoded at all (not UTF-8)
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
}


@router.post("/ask/stream", response_class=StreamingResponse, responses=_RESPONSES, summary="Answer as a stream")
def ask_stream(body: AskRequest, index: IndexDep, settings: SettingsDep, request: Request) -> StreamingResponse:
    started = time.perf_counter()
    turn = answer_turn(request, index, settings, body.question, body.conversation_id, body.top_k)
    meta = ask_response(index, turn, body.conversation_id, 0.0).model_dump(exclude={"answer", "elapsed_ms"})
    pieces = text_source_for(request, "web")(turn.answer)
    request_id = getattr(request.state, "request_id", None)
    return StreamingResponse(
        _events(meta, pieces, started, request_id), media_type="text/event-stream", headers=SSE_HEADERS
    )


def _events(meta: dict[str, object], pieces: Iterable[str], started: float, request_id: str | None) -> Iterator[str]:
    yield sse(meta, "meta")
    text: list[str] = []
    try:
        for piece in pieces:
            text.append(piece)
            yield sse({"text": piece}, "delta")
    except PlanQAError as e:
        yield sse({"error": {"code": "answer_failed", "message": str(e), "request_id": request_id}}, "error")
        return
    except Exception:
        log.exception("stream failed", extra={"request_id": request_id})
        message = "生成回答时出错，请重试。The answer failed midway: retry, or see the server log."
        yield sse({"error": {"code": "internal_error", "message": message, "request_id": request_id}}, "error")
        return
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    yield sse({"answer": "".join(text), "elapsed_ms": elapsed, **stream_mode(pieces)}, "done")
