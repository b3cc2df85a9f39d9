"""The API's request and response models: the only place pydantic meets the domain objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from index.catalog import PLAN_ID_PATTERN, PlanMeta
from index.model import Section, Task, TaskHit
from rag.library import LibraryAskOptions
from rag.limits import CONVERSATION_ID_PATTERN
from rag.service import Reply
from rag.types import Citation, Comparison, Evidence, Signals, Suggestion

_REF = '"12", or "3-2" (section 3, task 2) in a plan numbered per section'  # how a task is addressed (Task.ref)
_LABEL = "how answers name the task: 第12项, 第三部分第2项"  # Task.label


class AskRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"question": "谁负责近视防控?"}]})

    # The length limit is PLANQA_MAX_QUESTION_CHARS, checked by the answering service (422 over it).
    question: str = Field(min_length=1, description="问题（长度上限见 PLANQA_MAX_QUESTION_CHARS，默认500字）")
    top_k: int | None = Field(None, ge=1, le=20, description="How many citations at most")
    conversation_id: str | None = Field(
        None,
        pattern=CONVERSATION_ID_PATTERN,
        description="会话编号：同一编号下的追问（“第二个呢?”）按上一轮理解。Follow-ups resolve within this id",
    )
    plan: str | None = Field(
        None,
        pattern=PLAN_ID_PATTERN,
        description="计划编号（见 GET /plans）；不填则按问题中的年份、地区选择，否则为默认计划。"
        "The plan to answer from",
    )

    def options(self, started: float, admit: Callable[[], None] | None = None) -> LibraryAskOptions:
        """How the service is to take the question (``started``: the request's arrival, for the LLM budget;
        ``admit``: takes a place for an LLM answer, see api/streams.py)."""
        return LibraryAskOptions(
            conversation_id=self.conversation_id, top_k=self.top_k, started=started, admit=admit, plan=self.plan
        )


class PlanRefOut(BaseModel):
    """The plan an answer or citation comes from."""

    id: str
    title: str
    issuer: str = ""
    region: str = ""
    year: int | None = None

    @classmethod
    def of(cls, m: PlanMeta) -> PlanRefOut:
        return cls.model_validate(plan_body(m))


def plan_body(m: PlanMeta) -> dict[str, Any]:
    return {"id": m.id, "title": m.title, "issuer": m.issuer, "region": m.region, "year": m.year}


class CitationOut(BaseModel):
    task: int = Field(description="The task's key: its number, in a plan numbered continuously")
    ref: str = Field("", description=_REF)
    label: str = Field("", description=_LABEL)
    section: str
    title: str
    excerpt: str
    units: list[str]
    lead_unit: str | None
    score: float
    plan: str = Field("", description="The plan's id (GET /plans)")
    plan_title: str = Field("", description="The plan's title")

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls.model_validate(citation_body(c))


def citation_body(c: Citation) -> dict[str, Any]:
    """``CitationOut`` as plain data: the one place its fields are filled."""
    return {
        "task": c.task,
        "ref": c.ref,
        "label": c.label,
        "section": c.section,
        "title": c.title,
        "excerpt": c.excerpt,
        "units": list(c.units),
        "lead_unit": c.lead_unit,
        "score": c.score,
        "plan": c.plan,
        "plan_title": c.plan_title,
    }


class ChangeRefOut(BaseModel):
    old_ref: str | None
    new_ref: str | None
    kinds: list[str]


class ComparisonOut(BaseModel):
    """A year-over-year answer: the plans compared (older first) and the changes reported, or why not."""

    old: str | None
    new: str | None
    refused: str = Field("", description="different_issuers | no_other_year | '' (compared)")
    changes: list[ChangeRefOut] = Field(default_factory=list)

    @classmethod
    def of(cls, c: Comparison) -> ComparisonOut:
        return cls.model_validate(comparison_body(c))


def comparison_body(c: Comparison) -> dict[str, Any]:
    changes = [{"old_ref": x.old_ref, "new_ref": x.new_ref, "kinds": list(x.kinds)} for x in c.changes]
    return {"old": c.old, "new": c.new, "refused": c.refused, "changes": changes}


class SignalsOut(BaseModel):
    dense_z: float = Field(description="best task's cosine, in standard deviations above the mean over all sentences")
    dense_margin: float = Field(description="dense_z minus that of the next task")
    keyword_coverage: float = Field(description="share of the question's words found verbatim in the task")
    soft_coverage: float = Field(description="the same through the lexicon (托管 → 课后服务)")
    latin_share: float = Field(description="share of Latin letters in the question (0 Chinese … 1 English)")
    detail_missing: bool = Field(description="asks a number, date, person or place the matching text does not state")
    year_missing: bool = Field(description="names a year the plan never mentions")
    top_share: float = Field(description="share of the ten best-fused sentences that belong to the best task")


class EvidenceOut(BaseModel):
    """Why the answer gate answered or refused (questions that needed retrieval)."""

    decision: str = Field(description="answer | refuse")
    probability: float = Field(description="the gate's estimate that the best task answers the question")
    threshold: float = Field(description="the operating point: answer at or above it")
    reason: str = Field("", description="a rule that decided before the model, e.g. asks_person")
    signals: SignalsOut

    @classmethod
    def of(cls, e: Evidence) -> EvidenceOut:
        return cls.model_validate(evidence_body(e))


_SIGNALS = tuple(f.name for f in fields(Signals))


def evidence_body(e: Evidence) -> dict[str, Any]:
    """``EvidenceOut`` as plain data: the signals as the gate measured them, the estimate and the decision. (The
    signals are numbers: read field by field, not through ``asdict``'s deep copy, which cost 6 µs of a repeated
    question's reply.)"""
    return {
        "decision": e.decision.value,
        "probability": e.probability,
        "threshold": e.threshold,
        "reason": e.reason,
        "signals": {name: getattr(e.signals, name) for name in _SIGNALS},
    }


class SuggestionOut(BaseModel):
    """A task close to a question the plan does not answer (``found: false``): offered, not claimed."""

    task: int
    title: str
    lead_unit: str | None
    label: str = Field("", description=_LABEL)
    ref: str = Field("", description=_REF)

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        return cls.model_validate(suggestion_body(s))


def suggestion_body(s: Suggestion) -> dict[str, Any]:
    return {"task": s.task, "title": s.title, "lead_unit": s.lead_unit, "label": s.label, "ref": s.ref}


class AskResponse(BaseModel):
    answer: str
    found: bool
    intent: str
    citations: list[CitationOut]
    elapsed_ms: float
    answer_mode: str = Field("extractive", description="extractive | llm | llm_rejected (then see answer_mode_reason)")
    answer_mode_reason: str | None = Field(None, description="Why a generated answer was not used, e.g. timeout")
    conversation_id: str | None = Field(None, description="The conversation this turn belongs to, if any")
    resolved_question: str | None = Field(None, description="How a follow-up was understood, e.g. 谁负责课后服务")
    follow_up: str = Field("none", description="none | lead | item | more | original | topic")
    highlight: list[str] = Field(default_factory=list, description="Question words to highlight in excerpts")
    evidence: EvidenceOut | None = Field(None, description="The answer gate's signals and decision, when it decided")
    suggestions: list[SuggestionOut] = Field(
        default_factory=list, description="With found: false, the closest tasks (相关的可能是…)"
    )
    plan: PlanRefOut | None = Field(None, description="The plan answered from")
    comparison: ComparisonOut | None = Field(None, description="For a year-over-year question (intent compare)")

    @classmethod
    def of(cls, reply: Reply, elapsed_ms: float) -> AskResponse:
        return cls.model_validate(ask_body(reply, elapsed_ms))


def ask_body(reply: Reply, elapsed_ms: float) -> dict[str, Any]:
    """``AskResponse`` as plain data: the one place its fields are filled. ``POST /ask`` serialises this
    straight to JSON (no model to build and validate on the hot path); ``AskResponse.of`` validates it."""
    a = reply.answer
    return {
        "answer": a.text,
        "found": a.found,
        "intent": a.intent.value,
        "citations": [citation_body(c) for c in a.citations],
        "elapsed_ms": round(elapsed_ms, 2),
        "answer_mode": a.mode.value,
        "answer_mode_reason": a.mode_reason,
        "conversation_id": reply.conversation_id,
        "resolved_question": reply.resolved_question,
        "follow_up": reply.follow_up.value,
        "highlight": list(reply.highlight),
        "evidence": evidence_body(a.evidence) if a.evidence else None,
        "suggestions": [suggestion_body(x) for x in a.suggestions],
        "plan": plan_body(reply.plan) if reply.plan else None,
        "comparison": comparison_body(reply.comparison) if reply.comparison else None,
    }


class UnitRoleOut(BaseModel):
    unit: str
    role: str = Field(description="lead (牵头) | support (配合) | local (落实: 各县区, 市直学校 …)")


class TaskOut(BaseModel):
    number: int
    key: int = Field(description="Unique in the plan: the number, in a plan numbered continuously (/tasks/{key})")
    ref: str = Field(description=_REF)
    label: str = Field(description=_LABEL)
    section: int
    section_title: str
    title: str
    text: str
    sentences: list[str]
    units: list[str]
    lead_unit: str | None
    roles: list[UnitRoleOut] = Field(default_factory=list, description="Each unit with its part, in note order")
    leaders: list[str] = Field(default_factory=list, description="责任领导 the note names (people, not units)")
    note: str = Field("", description="The note as written, brackets included")

    @classmethod
    def of(cls, t: Task, section: Section) -> TaskOut:
        return cls(
            number=t.number,
            key=t.key,
            ref=t.ref,
            label=t.label,
            section=t.section,
            section_title=f"{section.numeral}、{section.title}" if section.numeral else section.title,
            title=t.title,
            text=t.body,
            sentences=list(t.sentences),
            units=list(t.units),
            lead_unit=t.lead_unit,
            roles=[UnitRoleOut(unit=a.unit, role=a.role.value) for a in t.assigned],
            leaders=list(t.leaders),
            note=t.note,
        )


class SectionOut(BaseModel):
    number: int
    numeral: str
    title: str
    tasks: list[int]


class PlanOut(BaseModel):
    title: str
    numbering: str = Field("continuous", description="continuous | per_section")
    sections: list[SectionOut]
    tasks: list[TaskOut]
    missing_tasks: list[int]
    missing_sections: list[int]
    missing_refs: list[str] = Field(default_factory=list, description='Every numbering gap as a ref: "18", "2-3"')


class UnitOut(BaseModel):
    name: str
    tasks: list[int]
    lead_tasks: list[int]
    support_tasks: list[int] = Field(default_factory=list)
    local_tasks: list[int] = Field(default_factory=list)


class UnitTasksOut(BaseModel):
    unit: str
    tasks: list[TaskOut]
    lead_tasks: list[int]
    support_tasks: list[int] = Field(default_factory=list)
    local_tasks: list[int] = Field(default_factory=list)


class SearchHitOut(BaseModel):
    task: int
    title: str
    score: float
    similarity: float
    sentences: list[str]

    @classmethod
    def of(cls, h: TaskHit, title: str) -> SearchHitOut:
        return cls(
            task=h.task,
            title=title,
            score=round(h.score, 5),
            similarity=round(h.similarity, 4),
            sentences=[x.text for x in h.hits[:3]],
        )


class SearchOut(BaseModel):
    query: str
    retriever: str
    results: list[SearchHitOut]
    plan: str = Field("", description="The plan searched")


class HealthOut(BaseModel):
    status: str
    index_version: str | None = None
    model: str | None = None
    tasks: int | None = None  # of the default plan
    plans: int | None = None  # plans served


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


OpenAPIResponses = dict[int | str, dict[str, Any]]


def error_responses(*statuses: int) -> OpenAPIResponses:
    """The OpenAPI entries of refusals a route declares: each the usual JSON error body (``ErrorOut``)."""
    return {status: {"model": ErrorOut} for status in statuses}
