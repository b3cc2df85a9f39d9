"""The API's request and response models: the only place pydantic meets the domain objects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from index.model import Section, Task, TaskHit
from rag.limits import CONVERSATION_ID_PATTERN
from rag.service import AskOptions, Reply
from rag.types import Citation


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

    def options(self, started: float) -> AskOptions:
        """How the service is to take the question (``started``: the request's arrival, for the LLM budget)."""
        return AskOptions(conversation_id=self.conversation_id, top_k=self.top_k, started=started)


class CitationOut(BaseModel):
    task: int
    section: str
    title: str
    excerpt: str
    units: list[str]
    lead_unit: str | None
    score: float

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls.model_validate(citation_body(c))


def citation_body(c: Citation) -> dict[str, Any]:
    """``CitationOut`` as plain data: the one place its fields are filled."""
    return {
        "task": c.task,
        "section": c.section,
        "title": c.title,
        "excerpt": c.excerpt,
        "units": list(c.units),
        "lead_unit": c.lead_unit,
        "score": c.score,
    }


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
    }


class TaskOut(BaseModel):
    number: int
    section: int
    section_title: str
    title: str
    text: str
    sentences: list[str]
    units: list[str]
    lead_unit: str | None

    @classmethod
    def of(cls, t: Task, section: Section) -> TaskOut:
        return cls(
            number=t.number,
            section=t.section,
            section_title=f"{section.numeral}、{section.title}" if section.numeral else section.title,
            title=t.title,
            text=t.body,
            sentences=list(t.sentences),
            units=list(t.units),
            lead_unit=t.lead_unit,
        )


class SectionOut(BaseModel):
    number: int
    numeral: str
    title: str
    tasks: list[int]


class PlanOut(BaseModel):
    title: str
    sections: list[SectionOut]
    tasks: list[TaskOut]
    missing_tasks: list[int]
    missing_sections: list[int]


class UnitOut(BaseModel):
    name: str
    tasks: list[int]
    lead_tasks: list[int]


class UnitTasksOut(BaseModel):
    unit: str
    tasks: list[TaskOut]
    lead_tasks: list[int]


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


class HealthOut(BaseModel):
    status: str
    index_version: str | None = None
    model: str | None = None
    tasks: int | None = None


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
