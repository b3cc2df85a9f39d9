"""Dependency aliases for routes: the answering service, the plan it answers from, and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ApiError
from config.settings import Settings
from index.model import Plan
from rag.service import AnsweringService


def get_service(request: Request) -> AnsweringService:
    service: AnsweringService | None = request.app.state.service
    if service is None:
        raise ApiError(503, "index_not_ready", "索引尚未加载，请稍后再试。The index is not loaded yet: retry shortly.")
    return service


def get_plan(service: Annotated[AnsweringService, Depends(get_service)]) -> Plan:
    return service.plan


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[AnsweringService, Depends(get_service)]
PlanDep = Annotated[Plan, Depends(get_plan)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
