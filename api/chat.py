"""What the chat-like channels share at the edge: the app's conversation store, one call to answer a turn,
the pluggable text source, and server-sent-event framing. (API keys: ``api/security.py``, for every route.)

The text source: streaming routes send ``text_source_for(request, channel)(answer)`` piece by piece. The
default is ``rag.present.extractive_text`` (the extractive answer with 【第N项】 marks, one sentence per piece);
another step (an LLM) plugs in by setting ``app.state.text_sources = {"web": fn, "openai": fn}``, each ``fn``
taking the extractive ``Answer`` and yielding text.
"""

from __future__ import annotations

import json
import threading

from fastapi import Request
from starlette.datastructures import State

from api.schemas import AskResponse
from api.settings import Settings
from index.store import PlanIndex
from rag.answer import AnswerConfig
from rag.conversation import ConversationConfig, ConversationStore, Turn, converse, take_turn
from rag.present import TextSource, extractive_text, highlight_terms

_lock = threading.Lock()


def conversations_for(state: State, settings: Settings) -> ConversationStore:
    """The app's conversation store, made on first use (WeChat shares it: ``conversations_for(app.state, …)``)."""
    with _lock:
        if not hasattr(state, "conversations"):
            state.conversations = ConversationStore(
                ConversationConfig(
                    ttl_seconds=settings.conversation_ttl_s,
                    max_conversations=settings.max_conversations,
                    max_turns=settings.max_conversation_turns,
                )
            )
        store: ConversationStore = state.conversations
    return store


def answer_config(settings: Settings) -> AnswerConfig:
    return AnswerConfig(top_k=settings.top_k, max_question_chars=settings.max_question_chars)


def answer_turn(
    request: Request,
    index: PlanIndex,
    settings: Settings,
    question: str,
    conversation_id: str | None,
    top_k: int | None = None,
) -> Turn:
    """One turn: within the conversation when an id is given (and remembered), standalone otherwise."""
    config = answer_config(settings)
    if conversation_id:
        store = conversations_for(request.app.state, settings)
        turn = take_turn(store, index, conversation_id, question, config, top_k)
    else:
        turn = converse(index, (), question, config, top_k)
    request.state.log_fields = {
        "intent": turn.answer.intent.value,
        "found": turn.answer.found,
        "follow_up": turn.follow_up.value,
        "question": question,  # logged only with PLANQA_LOG_QUESTIONS=1
    }
    return turn


def text_source_for(request: Request, channel: str) -> TextSource:
    sources: dict[str, TextSource] = getattr(request.app.state, "text_sources", None) or {}
    return sources.get(channel, extractive_text)


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event; ``data`` as JSON on one line."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def ask_response(index: PlanIndex, turn: Turn, conversation_id: str | None, elapsed_ms: float) -> AskResponse:
    """``POST /ask``'s body for a turn, with the conversation fields and the words to highlight."""
    return AskResponse.of(turn.answer, elapsed_ms).model_copy(
        update={
            "conversation_id": conversation_id,
            "resolved_question": turn.resolved if turn.resolved and turn.resolved != turn.question else None,
            "follow_up": turn.follow_up.value,
            "highlight": list(highlight_terms(index, turn.resolved, turn.answer)),
        }
    )
