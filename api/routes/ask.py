"""POST /ask and GET /search."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.chat import answer_turn, ask_response
from api.deps import IndexDep, SettingsDep
from api.llm import Channel, generate_answer, generator_for, log_fields, rewrite
from api.schemas import AskRequest, AskResponse, ErrorOut, SearchHitOut, SearchOut
from rag.answer import MAX_QUESTION_CHARS, validate_question
from rag.retrieve import RetrievalConfig, Retriever, search

router = APIRouter(tags=["ask"])
_ERRORS: dict[int | str, dict[str, object]] = {422: {"model": ErrorOut}, 413: {"model": ErrorOut}}
_BODY_ERRORS = {**_ERRORS, 400: {"model": ErrorOut}}  # 400: a body that cannot be decoded at all (not UTF-8)


@router.post("/ask", response_model=AskResponse, responses=_BODY_ERRORS, summary="Answer a question with citations")
def ask(body: AskRequest, index: IndexDep, settings: SettingsDep, request: Request) -> AskResponse:
    started = time.perf_counter()
    generator = generator_for(request.app.state, settings)  # None unless PLANQA_LLM_* are set
    if body.conversation_id:  # a turn of a conversation: follow-ups resolve against the turn before (#5)
        turn = answer_turn(request, index, settings, body.question, body.conversation_id, body.top_k)
        generated, generation = rewrite(index, turn.answer, settings, generator, Channel.WEB, started)
        request.state.log_fields = {**request.state.log_fields, **log_fields(generated, generation)}
        turn = replace(turn, answer=generated)
        return ask_response(index, turn, body.conversation_id, (time.perf_counter() - started) * 1000)
    result, generation = generate_answer(index, body.question, settings, generator, Channel.WEB, body.top_k, started)
    request.state.log_fields = {
        "intent": result.intent.value,
        "found": result.found,
        "question": body.question,  # logged only with PLANQA_LOG_QUESTIONS=1
        **log_fields(result, generation),
    }
    return AskResponse.of(result, (time.perf_counter() - started) * 1000)


@router.get("/search", response_model=SearchOut, responses=_ERRORS, summary="Retrieval only (for debugging)")
def search_plan(
    index: IndexDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="查询")],
    retriever: Retriever = Retriever.HYBRID,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
) -> SearchOut:
    text = validate_question(q)
    hits = search(index, text, RetrievalConfig(retriever=retriever))[:k]
    titles = {t.number: t.title for t in index.plan.tasks}
    return SearchOut(query=text, retriever=retriever.value, results=[SearchHitOut.of(h, titles[h.task]) for h in hits])
