"""The plan's structure: tasks, units, and a unit's tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import IndexDep
from api.errors import ApiError
from api.schemas import ErrorOut, PlanOut, SectionOut, TaskOut, UnitOut, UnitTasksOut
from rag.text import normalize
from rag.units import find_units, tasks_of, unit_names

router = APIRouter(tags=["plan"])
_404: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}


@router.get("/tasks", response_model=PlanOut, summary="Every section and task of the plan")
def list_tasks(index: IndexDep) -> PlanOut:
    plan = index.plan
    return PlanOut(
        title=plan.title,
        sections=[
            SectionOut(number=s.number, numeral=s.numeral, title=s.title, tasks=[t.number for t in s.tasks])
            for s in plan.sections
        ],
        tasks=[TaskOut.of(t, plan.section_of(t)) for t in plan.tasks],
        missing_tasks=list(plan.missing_tasks),
        missing_sections=list(plan.missing_sections),
    )


@router.get("/tasks/{number}", response_model=TaskOut, responses=_404, summary="One task by number")
def get_task(number: Annotated[int, Path(ge=0, le=100000)], index: IndexDep) -> TaskOut:
    task = index.plan.task(number)
    if task is None:
        gap = "（该编号在计划中缺失）" if number in index.plan.missing_tasks else ""
        raise ApiError(404, "task_not_found", f"本计划没有第{number}项任务{gap}。The plan has no task {number}.")
    return TaskOut.of(task, index.plan.section_of(task))


@router.get("/units", response_model=list[UnitOut], summary="Every responsible unit and its tasks")
def list_units(index: IndexDep) -> list[UnitOut]:
    out = []
    for name in unit_names(index.plan):
        assignments = tasks_of(index.plan, name)
        out.append(
            UnitOut(
                name=name,
                tasks=[a.task.number for a in assignments],
                lead_tasks=[a.task.number for a in assignments if a.lead],
            )
        )
    return out


@router.get("/units/{name}/tasks", response_model=UnitTasksOut, responses=_404, summary="A unit's tasks")
def unit_tasks(name: Annotated[str, Path(min_length=1, max_length=50)], index: IndexDep) -> UnitTasksOut:
    names = unit_names(index.plan)
    text = normalize(name)
    matches = [text] if text in names else find_units(text, names)
    if len(matches) != 1:
        known = "、".join(names)
        raise ApiError(
            404,
            "unit_not_found",
            f"计划中没有“{name}”（或名称不唯一）。可用单位：{known}。Unknown or ambiguous unit {name!r}: see /units.",
        )
    assignments = tasks_of(index.plan, matches[0])
    return UnitTasksOut(
        unit=matches[0],
        tasks=[TaskOut.of(a.task, index.plan.section_of(a.task)) for a in assignments],
        lead_tasks=[a.task.number for a in assignments if a.lead],
    )
