"""Probes: GET /health (liveness: the process answers) and GET /ready (the index is loaded).

uvicorn loads the index in the lifespan before it accepts connections, so both answer 200 once the server
listens; an app embedded elsewhere (or a test app whose lifespan has not run) answers /ready with 503 until
its index is loaded. Gate traffic on /ready; restart on /health.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import HealthOut
from index.store import PlanIndex

router = APIRouter(tags=["health"])


def _status(request: Request) -> HealthOut:
    index: PlanIndex | None = getattr(request.app.state, "index", None)
    if index is None:
        return HealthOut(status="starting")
    return HealthOut(
        status="ok", index_version=index.manifest.version, model=index.manifest.model_id, tasks=len(index.plan.tasks)
    )


@router.get("/health", response_model=HealthOut, summary="Liveness: 200 while the process answers")
def health(request: Request) -> HealthOut:
    return _status(request)


@router.get("/ready", response_model=HealthOut, responses={503: {"model": HealthOut}}, summary="Readiness")
def ready(request: Request) -> HealthOut | JSONResponse:
    """200 when the index is loaded and questions can be answered; 503 otherwise."""
    status = _status(request)
    return status if status.status == "ok" else JSONResponse(status.model_dump(), status_code=503)
