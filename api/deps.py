"""Dependency aliases for routes: the answering service (the plan library), the plan a request asks about, the
settings, and the admin check for changing the library.

``async`` where they do no blocking work: FastAPI runs a plain ``def`` dependency in the thread pool, a hop that
costs more than the dependency itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.errors import ApiError
from api.security import key_matches
from config.settings import Settings
from index.catalog import PLAN_ID_PATTERN
from index.model import Plan
from rag.library import LibraryService, PlanEntry


def service_of(request: Request) -> LibraryService:
    """The answering service; 503 until the plans are loaded. Called directly by ``POST /ask``, the hot path,
    where solving a dependency costs more than this does."""
    service: LibraryService | None = request.app.state.service
    if service is None:
        raise ApiError(503, "index_not_ready", "索引尚未加载，请稍后再试。The index is not loaded yet: retry shortly.")
    return service


async def get_service(request: Request) -> LibraryService:
    return service_of(request)


async def get_plan_entry(
    service: Annotated[LibraryService, Depends(get_service)],
    plan: Annotated[
        str | None, Query(pattern=PLAN_ID_PATTERN, description="计划编号（GET /plans）；不填为默认计划")
    ] = None,
) -> PlanEntry:
    """The plan named by the ``plan`` query parameter, else the default plan (404 for an unknown id)."""
    return service.entry(plan)


async def get_plan(entry: Annotated[PlanEntry, Depends(get_plan_entry)]) -> Plan:
    return entry.plan


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def require_admin(request: Request) -> None:
    """Adding and removing plans needs a key from PLANQA_ADMIN_API_KEYS (compared in constant time)."""
    settings: Settings = request.app.state.settings
    keys = settings.admin_key_list
    if not keys:
        raise ApiError(
            403,
            "admin_disabled",
            "未配置管理密钥，不能通过接口增删计划。Changing plans over HTTP is off: set PLANQA_ADMIN_API_KEYS (or use "
            "`planqa plans add` on the server).",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not key_matches(token.strip(), keys):
        raise ApiError(
            401,
            "invalid_admin_key",
            "需要管理密钥：Authorization: Bearer <管理密钥>。An admin key is needed: send Authorization: Bearer <key> "
            "with a key from PLANQA_ADMIN_API_KEYS.",
            {"WWW-Authenticate": "Bearer"},
        )


ServiceDep = Annotated[LibraryService, Depends(get_service)]
PlanEntryDep = Annotated[PlanEntry, Depends(get_plan_entry)]
PlanDep = Annotated[Plan, Depends(get_plan)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AdminDep = Annotated[None, Depends(require_admin)]
