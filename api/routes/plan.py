"""The plan's structure: tasks, units, and a unit's tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import PlanDep
from api.errors import ApiError
from api.schemas import PlanOut, SectionOut, TaskOut, UnitOut, UnitTasksOut, error_responses
from index.model import Role
from index.units import Assignment, resolve_unit, tasks_of, unit_names

router = APIRouter(tags=["plan"])
_404 = error_responses(404)


@router.get("/tasks", response_model=PlanOut, responses=_404, summary="Every section and task of the plan")
async def list_tasks(plan: PlanDep) -> PlanOut:
    return PlanOut(
        title=plan.title,
        numbering=plan.numbering.value,
        sections=[
            SectionOut(number=s.number, numeral=s.numeral, title=s.title, tasks=[t.key for t in s.tasks])
            for s in plan.sections
        ],
        tasks=[TaskOut.of(t, plan.section_of(t)) for t in plan.tasks],
        missing_tasks=list(plan.missing_tasks),
        missing_sections=list(plan.missing_sections),
        missing_refs=list(plan.missing_refs),
    )


@router.get("/tasks/{number}", response_model=TaskOut, responses=_404, summary="One task by number (its key)")
async def get_task(number: Annotated[int, Path(ge=0, le=100000)], plan: PlanDep) -> TaskOut:
    task = plan.task(number)
    if task is None:
        gap = "（该编号在计划中缺失）" if number in plan.missing_tasks else ""
        raise ApiError(404, "task_not_found", f"本计划没有第{number}项任务{gap}。The plan has no task {number}.")
    return TaskOut.of(task, plan.section_of(task))


@router.get("/units", response_model=list[UnitOut], responses=_404, summary="Every responsible unit and its tasks")
async def list_units(plan: PlanDep) -> list[UnitOut]:
    out = []
    for name in unit_names(plan):
        assignments = tasks_of(plan, name)
        out.append(UnitOut(name=name, tasks=[a.task.key for a in assignments], **_by_role(assignments)))
    return out


@router.get("/units/{name}/tasks", response_model=UnitTasksOut, responses=_404, summary="A unit's tasks")
async def unit_tasks(name: Annotated[str, Path(min_length=1, max_length=50)], plan: PlanDep) -> UnitTasksOut:
    matches = resolve_unit(plan, name)
    if len(matches) != 1:
        known = "、".join(unit_names(plan))
        raise ApiError(
            404,
            "unit_not_found",
            f"计划中没有“{name}”（或名称不唯一）。可用单位：{known}。Unknown or ambiguous unit {name!r}: see /units.",
        )
    assignments = tasks_of(plan, matches[0])
    return UnitTasksOut(
        unit=matches[0],
        tasks=[TaskOut.of(a.task, plan.section_of(a.task)) for a in assignments],
        **_by_role(assignments),
    )


def _by_role(assignments: list[Assignment]) -> dict[str, list[int]]:
    """The task keys of a unit's assignments by its part: lead_tasks, support_tasks, local_tasks."""
    return {
        f"{role.value}_tasks": [a.task.key for a in assignments if a.role is role]
        for role in (Role.LEAD, Role.SUPPORT, Role.LOCAL)
    }
