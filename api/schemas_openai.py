"""Request and response models of the OpenAI-compatible endpoint (``/v1/chat/completions``, ``/v1/models``).

Kept beside ``api/schemas.py`` rather than in it: they mirror OpenAI's wire format, not PlanQA's domain.
Beyond OpenAI's fields a completion carries ``citations`` (the structured citations, best first, as in
``POST /ask``) and ``planqa`` (intent, found, how a follow-up was understood).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CitationOut

MODEL_ID = "planqa"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    # A string, or OpenAI's list of parts ([{"type": "text", "text": …}]); only text parts are read.
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ChatRequest(BaseModel):
    # temperature, top_p, max_tokens, user … are accepted and ignored: the answer is quoted, not sampled.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"model": MODEL_ID, "messages": [{"role": "user", "content": "谁负责近视防控?"}]}]
        },
    )

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: dict[str, Any] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Counted in characters: PlanQA has no tokenizer of the client's model."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class PlanQAInfo(BaseModel):
    intent: str
    found: bool
    follow_up: str = "none"
    resolved_question: str | None = None
    answer_mode: str | None = Field(
        None,
        description="extractive | llm | llm_rejected (non-streaming; streams carry it in the last chunk)",
    )
    answer_mode_reason: str | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut] = Field(description="The answer's citations, best first (as in POST /ask)")
    planqa: PlanQAInfo


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "planqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
