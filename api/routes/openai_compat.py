"""The OpenAI-compatible endpoint: PlanQA as a "model" for Open WebUI, Cherry Studio or any OpenAI SDK.

The last user message is the question; the earlier user messages are the conversation, replayed so that
"第二个呢?" resolves without server-side state. The answer text carries 【第N项】 marks; the structured
citations travel in ``citations`` (and, when streaming, in the first chunk).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.chat import SSE_HEADERS, answer_config, sse, text_source_for
from api.deps import IndexDep, SettingsDep
from api.errors import ApiError
from api.llm import stream_mode
from api.schemas import CitationOut, ErrorOut
from api.schemas_openai import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    Choice,
    ModelList,
    ModelOut,
    PlanQAInfo,
    Usage,
)
from rag.conversation import Turn, replay

router = APIRouter(prefix="/v1", tags=["openai"])
log = logging.getLogger("planqa.api")
_STARTED = int(time.time())
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 422: {"model": ErrorOut}}


@router.get("/models", response_model=ModelList, responses=_ERRORS, summary="The one model: planqa")
def list_models() -> ModelList:
    return ModelList(data=[ModelOut(id=MODEL_ID, created=_STARTED)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_ERRORS, 400: {"model": ErrorOut}, 200: {"content": {"text/event-stream": {}}}},
    summary="Chat completion (streaming or not), answered from the plan with citations",
)
def chat_completions(
    body: ChatRequest, index: IndexDep, settings: SettingsDep, request: Request
) -> ChatCompletion | StreamingResponse:
    questions = [m.text() for m in body.messages if m.role == "user"]
    if body.messages[-1].role != "user" or not questions:
        raise ApiError(
            422,
            "no_question",
            "最后一条消息应是用户的问题。The last message must be the user's question (role \"user\").",
        )
    turn = replay(index, questions[-settings.max_conversation_turns :], answer_config(settings))
    request.state.log_fields = {
        "intent": turn.answer.intent.value,
        "found": turn.answer.found,
        "question": questions[-1],  # logged only with PLANQA_LOG_QUESTIONS=1
    }
    pieces = text_source_for(request, "openai")(turn.answer)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    citations = [CitationOut.of(c) for c in turn.answer.citations]
    info = _info(turn)
    if body.stream:
        usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = _chunks(completion_id, created, body.model, pieces, citations, info, len(questions[-1]), usage)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    text = "".join(pieces)
    mode = stream_mode(pieces)
    request.state.log_fields = {**request.state.log_fields, **mode}
    info = info.model_copy(update=mode)
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[Choice(message=AssistantMessage(content=text))],
        usage=_usage(len(questions[-1]), len(text)),
        citations=citations,
        planqa=info,
    )


def _chunks(
    completion_id: str,
    created: int,
    model: str,
    pieces: Iterable[str],
    citations: list[CitationOut],
    info: PlanQAInfo,
    prompt_chars: int,
    include_usage: bool,
) -> Iterator[str]:
    def chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        return sse({**base, "choices": [choice], **extra})

    cited = [c.model_dump() for c in citations]
    yield chunk({"role": "assistant", "content": ""}, citations=cited, planqa=info.model_dump())
    produced = 0
    try:
        for piece in pieces:
            produced += len(piece)
            yield chunk({"content": piece})
    except Exception:  # the text source (an LLM, say) failed midway: tell the client the OpenAI way, and log
        log.exception("chat stream failed")
        message = "生成回答时出错，请重试。The answer failed midway: retry, or see the server log."
        yield sse({"error": {"message": message, "type": "server_error", "code": "internal_error"}})
        return
    yield chunk({}, "stop", planqa=stream_mode(pieces))  # extractive | llm | llm_rejected, known only now
    if include_usage:
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        yield sse({**base, "choices": [], "usage": _usage(prompt_chars, produced).model_dump()})
    yield sse("[DONE]")


def _info(turn: Turn) -> PlanQAInfo:
    resolved = turn.resolved if turn.resolved and turn.resolved != turn.question else None
    return PlanQAInfo(
        intent=turn.answer.intent.value,
        found=turn.answer.found,
        follow_up=turn.follow_up.value,
        resolved_question=resolved,
    )


def _usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
