"""The FastAPI application: wiring only. Routes live in ``api/routes/`` and ``api/wechat/``.

Everything a request needs is built once, in the lifespan, onto ``app.state``: ``service`` (the answering
service: the library of plans, each with its index), ``settings``, and ``wechat`` (the configured WeChat
accounts). Routes reach them through the dependencies in ``api/deps.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.edge import EdgeMiddleware
from api.errors import install_error_handlers
from api.logs import AccessLog, configure_logging
from api.metrics import observe_cache, route_templates
from api.routes import ask, health, library, openai_compat, ops, page, plan, stream
from api.schemas import error_responses
from api.security import AccessControl, TrustedProxies
from api.streams import StreamLimits
from api.watch import PlanWatcher
from api.wechat import routes as wechat
from api.wechat.accounts import build_accounts
from config.settings import Settings, get_settings
from config.wiring import build_library, build_state_store, single_library
from index.errors import PlanQAError
from rag.library import LibraryService
from rag.service import AnsweringService

log = logging.getLogger("planqa.api")


def create_app(settings: Settings | None = None, service: AnsweringService | LibraryService | None = None) -> FastAPI:
    """The app. Give ``service`` to share one already built (tests: one plan's service, or a library); otherwise
    the library the settings describe is built at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if isinstance(service, AnsweringService):
                ready = single_library(settings, service)
            elif service is not None:
                ready = service
            else:
                ready = await run_in_threadpool(lambda: build_library(settings, store=store))
            app.state.wechat = build_accounts(settings, ready, store)
        except (PlanQAError, ValueError) as e:  # say what is wrong and how to fix it, then let the server exit
            log.error(str(e), extra={"event": "startup_failed", "index_dir": str(settings.index_dir)})
            raise
        ready.on_install = observe_cache
        for entry in ready.shelf.entries.values():
            observe_cache(entry.service)
        app.state.service = ready
        versions = {e.meta.id: e.service.index.manifest.version for e in ready.shelf.entries.values()}
        log.info("index loaded", extra={"plans": versions, "state_store": settings.state_backend()})
        watcher = PlanWatcher(ready) if ready.folder is not None and ready.folder.writable else None
        if watcher is not None:
            watcher.start()
        yield
        if watcher is not None:
            watcher.stop()
        store.close()

    app = FastAPI(
        title="PlanQA",
        summary="工作要点问答：带出处的回答。Answers about a government work plan, with exact citations.",
        version="0.1.0",
        lifespan=lifespan,
        # What any route may answer besides its own: the access middleware's refusals, the body limit, and
        # 503 while the index is not loaded.
        responses=error_responses(401, 413, 429, 503),
    )
    app.state.settings = settings
    # Everything a request needs beyond the index (conversations, WeChat's state, rate limits): opened here, per
    # process; shared between processes and machines by the sqlite and redis backends (rag/state).
    try:
        store = build_state_store(settings)
    except PlanQAError as e:  # an unwritable state file, the redis client missing: say what to do, then exit
        log.error(str(e), extra={"event": "startup_failed", "state_store": settings.state_backend()})
        raise
    app.state.state_store = store
    app.state.service = None  # set by the lifespan; /ready answers 503 until then
    app.state.wechat = {}
    app.state.streams = StreamLimits(settings.max_llm_streams, settings.max_streams_per_client)
    # The one layer in front of the routes: request ids, the body limit, keys and rate limits, metrics, the
    # access log (api/edge.py).
    access = AccessControl(
        # An admin key (PLANQA_ADMIN_API_KEYS) is an API key too: it may ask, and add or remove plans.
        settings.api_key_list + settings.admin_key_list if settings.api_key_list else (),
        per_key=settings.rate_limit_per_key,
        per_ip=settings.rate_limit_per_ip,
        auth_failures=settings.rate_limit_auth_failures,
        store=store,
    )
    app.add_middleware(
        EdgeMiddleware,
        max_body=settings.max_request_bytes,
        access=access,
        proxies=TrustedProxies(settings.trusted_proxies),
        log=AccessLog(log_questions=settings.log_questions),
        routes=lambda: route_templates(app.routes),
        admin_keys=settings.admin_key_list,
    )
    install_error_handlers(app)
    for module in (ask, stream, openai_compat, page, plan, library, health, ops, wechat):
        app.include_router(module.router)
    _prepare_routes(app)
    return app


def _prepare_routes(app: FastAPI) -> None:
    """Work out every route's request handling now. FastAPI (0.16x) builds a route's parameter and response fields
    the first time a request is matched against it, and the first request a server gets — the /ready probe —
    walks past most routes. Done then, it competed for the interpreter with the word dictionary loading in its
    thread (index/keyword.py): cold start to /ready 1.50 s (median) against 1.04 s done here, before the index loads
    (~50 ms)."""
    route_templates(app.routes)


def app_factory() -> FastAPI:
    """For ``uvicorn --factory api.main:app_factory``."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
