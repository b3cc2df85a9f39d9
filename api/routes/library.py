"""The plan library: list, add (upload) and remove plans, compare two years, the responsibility matrix, a unit's
duties.

Adding and removing need a key from ``PLANQA_ADMIN_API_KEYS``. An upload is checked, indexed aside and switched in
while the other plans keep answering (``LibraryService.add``); a bad file is refused with its check report and
nothing changes.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, ServiceDep
from api.errors import ApiError, error_body
from api.schemas import OpenAPIResponses, error_responses
from api.schemas_library import DutiesOut, PlanAddedOut, PlanDiffOut, PlanInfoOut, PlansOut, duties_out, plan_info
from index.catalog import PLAN_ID_PATTERN
from index.errors import PlanRejectedError
from index.matrix import duties, matrix_csv, matrix_xlsx
from index.readers import MAX_FILE_BYTES
from index.units import resolve_unit
from rag.yoy import ComparisonRefused

router = APIRouter(tags=["plans"])
PlanId = Annotated[str, Path(pattern=PLAN_ID_PATTERN, description="计划编号 (GET /plans)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/plans", response_model=PlansOut, summary="The plans served, the default first marked")
async def list_plans(service: ServiceDep) -> PlansOut:
    shelf = service.shelf
    return PlansOut.of(list(shelf.entries.values()), shelf.default)


@router.post(
    "/plans",
    response_model=PlanAddedOut,
    status_code=201,
    responses=error_responses(401, 403, 409, 413, 415, 422),
    summary="Add a plan (upload a .txt/.docx/.pdf/.html; admin key)",
)
async def add_plan(
    service: ServiceDep,
    _admin: AdminDep,
    file: Annotated[UploadFile, File(description="计划文件 .txt .docx .pdf .html")],
    id: Annotated[str | None, Form(pattern=PLAN_ID_PATTERN, description="计划编号（默认由文件名或标题生成）")] = None,
    title: Annotated[str | None, Form(max_length=200)] = None,
    issuer: Annotated[str | None, Form(max_length=100)] = None,
    region: Annotated[str | None, Form(max_length=50)] = None,
    year: Annotated[int | None, Form(ge=1900, le=2200)] = None,
    replace: Annotated[bool, Form(description="替换同编号的计划")] = False,
) -> PlanAddedOut | JSONResponse:
    data = await file.read(MAX_FILE_BYTES + 1)
    name = file.filename or "plan.txt"
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(
            413,
            "plan_too_large",
            f"计划文件过大（上限{MAX_FILE_BYTES}字节）。"
            f"The plan file is over {MAX_FILE_BYTES} bytes: is it really a work plan?",
        )
    meta: dict[str, object] = {"title": title, "issuer": issuer, "region": region, "year": year}
    try:
        added = await run_in_threadpool(
            lambda: service.add(data, name, plan_id=id, meta=meta, replace=replace)
        )  # parses and embeds: off the event loop
    except PlanRejectedError as e:
        body = {**error_body("plan_rejected", str(e), None), "report": e.report.as_dict()}  # type: ignore[attr-defined]
        return JSONResponse(body, status_code=422)
    entry = service.entry(added.plan.meta.id)
    return PlanAddedOut(
        plan=plan_info(entry, entry.meta.id == service.default_plan),
        replaced=added.replaced,
        report=added.report.as_dict(),
    )


@router.delete(
    "/plans/{plan_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
    summary="Remove a plan (admin key; its file is kept aside)",
)
async def remove_plan(plan_id: PlanId, service: ServiceDep, _admin: AdminDep) -> Response:
    await run_in_threadpool(service.remove, plan_id)
    return Response(status_code=204)


@router.get(
    "/plans/{old}/diff/{new}",
    response_model=PlanDiffOut,
    responses=error_responses(404, 422),
    summary="Year over year: two plans of one issuer compared task by task",
)
async def diff_plans(old: PlanId, new: PlanId, service: ServiceDep) -> PlanDiffOut:
    try:
        a, b, diff = await run_in_threadpool(service.comparisons.diff, old, new)
    except ComparisonRefused as e:
        raise ApiError(422, e.reason, str(e)) from e
    return PlanDiffOut.of(a, b, diff)


_FILES: OpenAPIResponses = {200: {"content": {XLSX: {}, "text/csv": {}}, "description": "The responsibility matrix"}}


@router.get(
    "/plans/matrix.xlsx", response_class=Response, responses=_FILES, summary="任务分工表 of every plan (a sheet each)"
)
async def matrix_all(service: ServiceDep) -> Response:
    entries = list(service.shelf.entries.values())
    data = await run_in_threadpool(matrix_xlsx, [(e.meta.id, e.plan) for e in entries])
    return _download(data, XLSX, "任务分工表.xlsx", "plans-matrix.xlsx")


@router.get(
    "/plans/{plan_id}/matrix.{fmt}",
    response_class=Response,
    responses={**_FILES, **error_responses(404)},
    summary="任务分工表: tasks × units, 牵头 / 配合 / 落实 (.xlsx or .csv)",
)
async def matrix(plan_id: PlanId, fmt: Annotated[str, Path(pattern="^(xlsx|csv)$")], service: ServiceDep) -> Response:
    entry = service.entry(plan_id)
    if fmt == "csv":
        return _download(matrix_csv(entry.plan), "text/csv; charset=utf-8", f"{entry.meta.title}-任务分工表.csv",
                         f"{plan_id}-matrix.csv")  # fmt: skip
    data = await run_in_threadpool(matrix_xlsx, [(entry.meta.id, entry.plan)])
    return _download(data, XLSX, f"{entry.meta.title}-任务分工表.xlsx", f"{plan_id}-matrix.xlsx")


@router.get(
    "/plans/{plan_id}/units/{name}/duties",
    response_model=DutiesOut,
    responses=error_responses(404),
    summary="A unit's duties: every task it leads, supports or carries out, with the task's text",
)
async def unit_duties(
    plan_id: PlanId, name: Annotated[str, Path(min_length=1, max_length=50)], service: ServiceDep
) -> DutiesOut:
    plan = service.entry(plan_id).plan
    matches = resolve_unit(plan, name)
    if len(matches) != 1:
        raise ApiError(
            404,
            "unit_not_found",
            f"计划中没有“{name}”（或名称不唯一）。Unknown or ambiguous unit {name!r}: see /units?plan={plan_id}.",
        )
    return duties_out(plan_id, matches[0], duties(plan, matches[0]))


# After /plans/matrix.xlsx, which an id's pattern would also match.
@router.get("/plans/{plan_id}", response_model=PlanInfoOut, responses=error_responses(404), summary="One plan")
async def get_plan_info(plan_id: PlanId, service: ServiceDep) -> PlanInfoOut:
    entry = service.entry(plan_id)
    return plan_info(entry, entry.meta.id == service.default_plan)


def _download(data: bytes, media: str, name: str, ascii_name: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)
    disposition = f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name)}"
    return Response(data, media_type=media, headers={"Content-Disposition": disposition})
