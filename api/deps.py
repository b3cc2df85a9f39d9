"""Dependency aliases for routes: the answering service, the plan it answers from, and the settings.

All ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a hop that costs more than the
dependency itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ApiError
from config.settings import Settings
from index.model import Plan
from rag.service import AnsweringService


def service_of(request: Request) -> AnsweringService:
    """The answering service; 503 until the index is loaded. Called directly by ``POST /ask``, the hot path,
    where solving a dependency costs more than this does."""
    service: AnsweringService | None = request.app.state.service
    if service is None:
        raise ApiError(503, "index_not_ready", "索引尚未加载，请稍后再试。The index is not loaded yet: retry shortly.")
    return service


async def get_service(request: Request) -> AnsweringService:
    return service_of(request)


async def get_plan(service: Annotated[AnsweringService, Depends(get_service)]) -> Plan:
    return service.plan


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[AnsweringService, Depends(get_service)]
PlanDep = Annotated[Plan, Depends(get_plan)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
