"""GET /health: 200 once the index is loaded, 503 before."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import HealthOut
from index.store import PlanIndex

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(request: Request) -> HealthOut | JSONResponse:
    index: PlanIndex | None = getattr(request.app.state, "index", None)
    if index is None:
        return JSONResponse(HealthOut(status="starting").model_dump(), status_code=503)
    return HealthOut(
        status="ok", index_version=index.manifest.version, model=index.manifest.model_id, tasks=len(index.plan.tasks)
    )
