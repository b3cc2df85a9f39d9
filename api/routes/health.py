"""Probes: GET /health (liveness: the process answers) and GET /ready (the index is loaded, and the shared state
store answers: ``state_unavailable`` otherwise, so a load balancer sends no traffic to a worker that would
answer 503 for want of it).

uvicorn runs the lifespan (which loads the index) before it accepts connections, so both answer 200 once the
server listens; an app embedded elsewhere (or a test app whose lifespan has not run) answers /ready with 503
until its service is built. Gate traffic on /ready; restart on /health. Both are ``async``: they never wait for
the thread pool that answering uses, so a busy server still answers its probes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import HealthOut
from index.errors import StateStoreError
from rag.library import LibraryService
from rag.state import StateStore

router = APIRouter(tags=["health"])


def _status(request: Request) -> HealthOut:
    library: LibraryService | None = request.app.state.service
    if library is None:
        return HealthOut(status="starting")
    shelf = library.shelf
    if not shelf.entries or shelf.default is None:
        return HealthOut(status="no_plans", plans=0)
    service = shelf.entries[shelf.default].service  # the default plan's index
    manifest = service.index.manifest
    return HealthOut(
        status="ok",
        index_version=manifest.version,
        model=manifest.model_id,
        tasks=len(service.plan.tasks),
        plans=len(shelf.entries),
    )


@router.get("/health", response_model=HealthOut, summary="Liveness: 200 while the process answers")
async def health(request: Request) -> HealthOut:
    return _status(request)


@router.get("/ready", response_model=HealthOut, responses={503: {"model": HealthOut}}, summary="Readiness")
async def ready(request: Request) -> HealthOut | JSONResponse:
    """200 when the index is loaded and questions can be answered; 503 otherwise."""
    status = _status(request)
    store: StateStore | None = getattr(request.app.state, "state_store", None)
    if status.status == "ok" and store is not None:
        try:
            store.get("ready:probe")  # one round trip: a Redis down or a SQLite file gone fails here
        except StateStoreError:
            status = HealthOut(status="state_unavailable", plans=status.plans)
    return status if status.status == "ok" else JSONResponse(status.model_dump(), status_code=503)
