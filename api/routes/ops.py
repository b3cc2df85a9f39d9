"""GET /metrics: Prometheus exposition (protected by PLANQA_API_KEYS when set)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api import metrics

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
