"""POST /ask and GET /search.

Both are ``async``: what needs no waiting (a repeated question, a lookup, a query vector already known) is
answered on the event loop; only the query embedding goes to the thread pool.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep, service_of
from api.logs import reply_fields
from api.render import Json
from api.schemas import AskRequest, AskResponse, SearchHitOut, SearchOut, ask_body, error_responses
from api.streams import admission_for
from index.catalog import PLAN_ID_PATTERN
from rag.retrieve import Retriever
from rag.service import Channel

router = APIRouter(tags=["ask"])
_ERRORS = error_responses(422, 413, 404)  # 404: an unknown plan
_BODY_ERRORS = error_responses(422, 413, 404, 400)  # 400: a body that cannot be decoded at all (not UTF-8)


@router.post("/ask", response_model=AskResponse, responses=_BODY_ERRORS, summary="Answer a question with citations")
async def ask(body: AskRequest, request: Request) -> Json:
    """With a ``conversation_id``, follow-ups ("第二个呢?") resolve against that conversation's last turn."""
    started = time.perf_counter()
    service = service_of(request)
    reply = service.ask_now(body.question, channel=Channel.WEB, **body.options(started))
    if reply is None:  # a query to embed (or an LLM to ask, within the stream limits): off the event loop
        admission = admission_for(request)
        options = body.options(started, admission)
        try:
            reply = await run_in_threadpool(lambda: service.ask(body.question, channel=Channel.WEB, **options))
        finally:
            admission.release()
    request.state.log_fields = reply_fields(reply, body.question)
    return Json(ask_body(reply, (time.perf_counter() - started) * 1000))


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
