"""The FastAPI application: wiring only. Routes live in ``api/routes/``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.llm import install as install_llm
from api.logs import configure_logging
from api.metrics import observe_cache
from api.middleware import RequestContextMiddleware
from api.routes import ask, health, openai_compat, ops, page, plan, stream
from api.schemas import ErrorOut
from api.security import AccessMiddleware
from api.settings import Settings, get_settings
from api.wechat import routes as wechat
from index.embeddings import load_embeddings
from index.store import PlanIndex, open_index
from rag.errors import PlanQAError

log = logging.getLogger("planqa.api")


def load_index_for(settings: Settings) -> PlanIndex:
    """Load (or, when allowed, build) the index the settings describe."""
    embeddings = load_embeddings(settings.embedding_model)
    return open_index(settings.corpus, settings.index_dir, embeddings, rebuild=settings.rebuild_index)


def create_app(settings: Settings | None = None, index: PlanIndex | None = None) -> FastAPI:
    """The app. Give ``index`` to share one already loaded (tests); otherwise it loads at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.index is None:
            try:
                app.state.index = load_index_for(settings)
            except PlanQAError as e:  # say what is wrong and how to fix it, then let the server exit
                log.error(str(e), extra={"event": "startup_failed", "index_dir": str(settings.index_dir)})
                raise
            log.info("index loaded", extra={"index_version": app.state.index.manifest.version})
        observe_cache(app.state.index)
        yield

    app = FastAPI(
        title="PlanQA",
        summary="工作要点问答：带出处的回答。Answers about a government work plan, with exact citations.",
        version="0.1.0",
        lifespan=lifespan,
        # What any route may answer besides its own: the access middleware's refusals, the body limit, and
        # 503 while the index is not loaded.
        responses={status: {"model": ErrorOut} for status in (401, 413, 429, 503)},
    )
    app.state.settings = settings
    app.state.index = index
    install_llm(app, settings)  # optional LLM answers (PLANQA_LLM_*); a no-op when unset
    # Starlette runs the middleware added last first: request ids and the body limit, then access control.
    app.add_middleware(
        AccessMiddleware,
        keys=settings.api_key_list,
        per_key=settings.rate_limit_per_key,
        per_ip=settings.rate_limit_per_ip,
    )
    app.add_middleware(RequestContextMiddleware, max_body=settings.max_request_bytes, log_questions=settings.log_questions)
    install_error_handlers(app)
    if index is not None:
        observe_cache(index)
    for module in (ask, stream, openai_compat, page, plan, health, ops, wechat):
        app.include_router(module.router)
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory api.main:app_factory``."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
