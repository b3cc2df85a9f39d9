"""POST /ask and GET /search."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep
from api.logs import reply_fields
from api.schemas import AskRequest, AskResponse, SearchHitOut, SearchOut, error_responses
from api.streams import AdmissionDep
from index.catalog import PLAN_ID_PATTERN
from rag.retrieve import Retriever
from rag.service import Channel

router = APIRouter(tags=["ask"])
_ERRORS = error_responses(422, 413)
_BODY_ERRORS = error_responses(422, 413, 400)  # 400: a body that cannot be decoded at all (not UTF-8)


@router.post("/ask", response_model=AskResponse, responses=_BODY_ERRORS, summary="Answer a question with citations")
def ask(body: AskRequest, service: ServiceDep, request: Request, admission: AdmissionDep) -> AskResponse:
    """With a ``conversation_id``, follow-ups ("第二个呢?") resolve against that conversation's last turn."""
    started = time.perf_counter()
    try:
        reply = service.ask(body.question, channel=Channel.WEB, **body.options(started, admission))
    finally:
        admission.release()
    request.state.log_fields = reply_fields(reply, body.question)
    return AskResponse.of(reply, (time.perf_counter() - started) * 1000)


@router.get("/search", response_model=SearchOut, responses=_ERRORS, summary="Retrieval only (for debugging)")
async def search_plan(
    service: ServiceDep,
    q: Annotated[str, Query(min_length=1, description="查询（长度上限同提问）")],
    retriever: Retriever = Retriever.HYBRID,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    plan: Annotated[str | None, Query(pattern=PLAN_ID_PATTERN, description="计划编号；不填按查询或默认")] = None,
) -> SearchOut:
    query = service.validate(q)
    entry, hits = await run_in_threadpool(service.search, q, retriever, k, plan)  # embeds the query: off the loop
    titles = {t.key: t.title for t in entry.plan.tasks}
    results = [SearchHitOut.of(h, titles[h.task]) for h in hits]
    return SearchOut(query=query, retriever=retriever.value, results=results, plan=entry.meta.id)
