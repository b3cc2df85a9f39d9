"""Dependency aliases for routes: the loaded index and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ApiError
from api.settings import Settings
from index.store import PlanIndex


def get_index(request: Request) -> PlanIndex:
    index: PlanIndex | None = getattr(request.app.state, "index", None)
    if index is None:
        raise ApiError(503, "index_not_ready", "索引尚未加载，请稍后再试。The index is not loaded yet: retry shortly.")
    return index


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


IndexDep = Annotated[PlanIndex, Depends(get_index)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
