"""The OpenAI-compatible endpoint: PlanQA as a "model" for Open WebUI, Cherry Studio or any OpenAI SDK.

The last user message is the question; the earlier user messages are the conversation, replayed so that
"第二个呢?" resolves without server-side state. The answer text carries 【第N项】 marks; the structured
citations travel in ``citations`` (and, when streaming, in the first chunk).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import ServiceDep
from api.errors import ApiError
from api.logs import reply_fields
from api.schemas import CitationOut, error_responses
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
from api.sse import SSE_HEADERS, sse
from api.streams import AdmissionDep, GuardedStream
from rag.library import LibraryAskOptions
from rag.service import Channel, Reply, ReplyStream

router = APIRouter(prefix="/v1", tags=["openai"])
log = logging.getLogger("planqa.api")
_STARTED = int(time.time())
_ERRORS = error_responses(401, 422)
_CHAT_ERRORS = error_responses(400, 401, 404, 422)


@router.get("/models", response_model=ModelList, responses=_ERRORS, summary="planqa, and planqa:<plan id> per plan")
async def list_models(service: ServiceDep) -> ModelList:
    """``planqa`` answers from the plan a question names (else the default); ``planqa:<id>`` from that plan."""
    plans = [ModelOut(id=f"{MODEL_ID}:{m.id}", created=_STARTED) for m in service.plans]
    return ModelList(data=[ModelOut(id=MODEL_ID, created=_STARTED), *plans])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_CHAT_ERRORS, 200: {"content": {"text/event-stream": {}}}},
    summary="Chat completion (streaming or not), answered from the plan with citations",
)
def chat_completions(
    body: ChatRequest, service: ServiceDep, request: Request, admission: AdmissionDep
) -> ChatCompletion | StreamingResponse:
    """Only the last ``PLANQA_MAX_CONVERSATION_TURNS`` earlier user messages are replayed: each costs an answer
    (a query embedding, ≈25 ms of CPU, when not cached), and follow-ups need only the last few. The log line
    says how many were (``replayed``)."""
    started = time.perf_counter()
    questions = [m.text() for m in body.messages if m.role == "user"]
    if body.messages[-1].role != "user" or not questions:
        raise ApiError(
            422,
            "no_question",
            '最后一条消息应是用户的问题。The last message must be the user\'s question (role "user").',
        )
    replayed = min(len(questions) - 1, service.config.max_replayed_turns)
    plan = body.model.removeprefix(f"{MODEL_ID}:") if body.model.startswith(f"{MODEL_ID}:") else None
    if plan is not None:
        service.entry(plan)  # 404 naming the known plans, before anything is asked
    options = LibraryAskOptions(history=questions[:-1], started=started, admit=admission, plan=plan)
    try:
        stream = service.stream(questions[-1], channel=Channel.OPENAI, **options)
        request.state.log_fields = {**reply_fields(stream.draft, questions[-1]), "replayed": replayed}
        completion = _Completion(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body.model, len(questions[-1]))
        if body.stream:
            usage = bool((body.stream_options or {}).get("include_usage"))
            chunks = _chunks(completion, stream, usage, request, questions[-1])
            return GuardedStream(chunks, stream, admission, request, SSE_HEADERS)
        for _ in stream:
            pass
    except BaseException:
        admission.release()
        raise
    admission.release()
    assert stream.reply is not None
    reply = stream.reply
    request.state.log_fields = {**reply_fields(reply, questions[-1]), "replayed": replayed}
    return ChatCompletion(
        id=completion.id,
        created=completion.created,
        model=body.model,
        choices=[Choice(message=AssistantMessage(content=reply.answer.text))],
        usage=_usage(completion.prompt_chars, len(reply.answer.text)),
        citations=[CitationOut.of(c) for c in reply.answer.citations],
        planqa=_info(reply),
    )


class _Completion:
    def __init__(self, id: str, created: int, model: str, prompt_chars: int) -> None:
        self.id, self.created, self.model, self.prompt_chars = id, created, model, prompt_chars

    def chunk(self, choices: list[dict[str, object]], **extra: object) -> str:
        base = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        return sse({**base, "choices": choices, **extra})

    def delta(self, delta: dict[str, object], finish: str | None = None, **extra: object) -> str:
        return self.chunk([{"index": 0, "delta": delta, "finish_reason": finish}], **extra)


def _chunks(c: _Completion, stream: ReplyStream, include_usage: bool, request: Request, question: str) -> Iterator[str]:
    cited = [CitationOut.of(x).model_dump() for x in stream.draft.answer.citations]
    yield c.delta(
        {"role": "assistant", "content": ""},
        citations=cited,
        planqa=_info(stream.draft).model_dump(exclude={"answer_mode", "answer_mode_reason"}),
    )
    produced = 0
    try:
        for piece in stream:
            produced += len(piece)
            yield c.delta({"content": piece})
    except Exception:  # the text source (an LLM, say) failed midway: tell the client the OpenAI way, and log
        log.exception("chat stream failed")
        message = "生成回答时出错，请重试。The answer failed midway: retry, or see the server log."
        yield sse({"error": {"message": message, "type": "server_error", "code": "internal_error"}})
        return
    assert stream.reply is not None
    request.state.log_fields = {**request.state.log_fields, **reply_fields(stream.reply, question)}
    answer = stream.reply.answer
    mode = {"answer_mode": answer.mode.value, "answer_mode_reason": answer.mode_reason}
    yield c.delta({}, "stop", planqa=mode)  # extractive | llm | llm_rejected, known only now
    if include_usage:
        yield c.chunk([], usage=_usage(c.prompt_chars, produced).model_dump())
    yield sse("[DONE]")


def _info(reply: Reply) -> PlanQAInfo:
    return PlanQAInfo(
        intent=reply.answer.intent.value,
        found=reply.answer.found,
        follow_up=reply.follow_up.value,
        resolved_question=reply.resolved_question,
        answer_mode=reply.answer.mode.value,
        answer_mode_reason=reply.answer.mode_reason,
    )


def _usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
