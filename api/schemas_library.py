"""Request and response models of the plan library's routes (``api/routes/library.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas import CitationOut, PlanRefOut
from index.diff import PlanDiff, TaskChange
from index.matrix import Duty
from index.model import Task
from index.units import unit_names
from rag.answer import citation
from rag.library import PlanEntry


class PlanInfoOut(PlanRefOut):
    tasks: int
    numbering: str
    units: int
    default: bool = Field(False, description="Answered when a question names no plan")
    index_version: str = ""


class PlansOut(BaseModel):
    default: str | None
    plans: list[PlanInfoOut]

    @classmethod
    def of(cls, entries: list[PlanEntry], default: str | None) -> PlansOut:
        return cls(default=default, plans=[plan_info(e, e.meta.id == default) for e in entries])


def plan_info(e: PlanEntry, default: bool = False) -> PlanInfoOut:
    plan = e.plan
    return PlanInfoOut(
        **PlanRefOut.of(e.meta).model_dump(),
        tasks=len(plan.tasks),
        numbering=plan.numbering.value,
        units=len(unit_names(plan)),
        default=default,
        index_version=e.service.index.manifest.version,
    )


class PlanAddedOut(BaseModel):
    plan: PlanInfoOut
    replaced: bool
    report: dict[str, Any] = Field(description="The check report (as `planqa plans check --json`)")


class TaskChangeOut(BaseModel):
    old_ref: str | None
    new_ref: str | None
    kinds: list[str]
    similarity: float
    title: list[str] | None = Field(None, description="[old title, new title] when it changed")
    figures: list[list[str]] = Field(default_factory=list, description="[old clause, new clause] pairs")
    reworded: list[list[str]] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    old_leads: list[str] = Field(default_factory=list)
    new_leads: list[str] = Field(default_factory=list)
    units_added: list[str] = Field(default_factory=list)
    units_removed: list[str] = Field(default_factory=list)
    citations: list[CitationOut] = Field(default_factory=list, description="The task in each plan")

    @classmethod
    def of(cls, c: TaskChange, old: PlanEntry, new: PlanEntry) -> TaskChangeOut:
        cites = [_cite(new, c.new), _cite(old, c.old)]
        return cls(
            old_ref=c.old.ref if c.old else None,
            new_ref=c.new.ref if c.new else None,
            kinds=[k.value for k in c.kinds],
            similarity=c.similarity,
            title=list(c.title) if c.title else None,
            figures=[list(x) for x in c.figures],
            reworded=[list(x) for x in c.reworded],
            added=list(c.added),
            removed=list(c.removed),
            old_leads=list(c.leads[0]),
            new_leads=list(c.leads[1]),
            units_added=list(c.units_added),
            units_removed=list(c.units_removed),
            citations=[x for x in cites if x is not None],
        )


def _cite(entry: PlanEntry, task: Task | None) -> CitationOut | None:
    if task is None:
        return None
    out = CitationOut.of(citation(entry.plan, task, task.sentences[0] if task.sentences else task.title))
    return out.model_copy(update={"plan": entry.meta.id, "plan_title": entry.meta.title})


class PlanDiffOut(BaseModel):
    old: PlanRefOut
    new: PlanRefOut
    counts: dict[str, int]
    changes: list[TaskChangeOut]

    @classmethod
    def of(cls, old: PlanEntry, new: PlanEntry, diff: PlanDiff) -> PlanDiffOut:
        return cls(
            old=PlanRefOut.of(old.meta),
            new=PlanRefOut.of(new.meta),
            counts=diff.counts(),
            changes=[TaskChangeOut.of(c, old, new) for c in diff.changes],
        )


class DutyOut(BaseModel):
    label: str
    ref: str
    key: int
    section: str
    title: str
    role: str = Field(description="lead | support | local")
    role_label: str = Field(description="牵头 | 配合 | 落实")
    text: str = Field(description="The task as written, its note included")
    collective: bool = Field(False, description='Named as "X等机关各科室" (with the other departments)')


class DutiesOut(BaseModel):
    plan: str
    unit: str
    duties: list[DutyOut]


def duties_out(plan_id: str, unit: str, duties: list[Duty]) -> DutiesOut:
    return DutiesOut(
        plan=plan_id,
        unit=unit,
        duties=[
            DutyOut(
                label=d.task.label, ref=d.task.ref, key=d.task.key, section=d.section, title=d.task.title,
                role=d.role.value, role_label=d.role.label, text=d.task.text, collective=d.collective,
            )
            for d in duties
        ],
    )  # fmt: skip
