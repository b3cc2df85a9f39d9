"""The optional LLM step at the edge: builds the Generator from Settings and gives routes one call per channel.

Off unless ``PLANQA_LLM_BASE_URL`` and ``PLANQA_LLM_MODEL`` are set; then every channel still computes the
extractive answer first and gets it back whenever the generated one is rejected, late or unreachable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.datastructures import State

from api.chat import answer_config
from api.settings import Settings
from index.store import PlanIndex
from rag.answer import answer
from rag.present import TextSource, extractive_text, with_inline_citations
from rag.types import Answer

if TYPE_CHECKING:  # the LLM client (openai, langchain prompts: ~2 s to import) loads only when configured
    from rag.generate import AnswerStream, Generation, Generator, LLMConfig


class Channel(StrEnum):
    WEB = "web"  # /ask, /ask/stream and the web page
    WECHAT = "wechat"  # 4.5 s: WeChat drops a reply that takes over 5 s
    OPENAI = "openai"  # /v1/chat/completions


_lock = threading.Lock()


def llm_config(settings: Settings) -> LLMConfig | None:
    if not settings.llm_enabled:
        return None
    from rag.generate import LLMConfig

    return LLMConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        max_tokens=settings.llm_max_tokens,
    )


def generator_for(state: State, settings: Settings) -> Generator | None:
    """The app's Generator (built once, on first use), or None when LLM answers are off."""
    with _lock:
        if not hasattr(state, "generator"):
            config = llm_config(settings)
            if config is None:
                state.generator = None
            else:
                from rag.generate import Generator

                state.generator = Generator(config)
        generator: Generator | None = state.generator
    return generator


def install(app: FastAPI, settings: Settings) -> None:
    """With an LLM configured: build the Generator now (a bad prompt file stops start-up) and plug LLM
    streams into the streaming routes' text sources (``api.chat.text_source_for``)."""
    if not settings.llm_enabled:
        return
    generator_for(app.state, settings)
    app.state.text_sources = {
        channel.value: _text_source(app.state, settings, channel) for channel in (Channel.WEB, Channel.OPENAI)
    }


def _text_source(state: State, settings: Settings, channel: Channel) -> TextSource:
    def source(extractive: Answer) -> Iterable[str]:
        generator = generator_for(state, settings)
        if generator is None or not generator.applies(extractive):
            return extractive_text(extractive)
        return generator.stream(state.index.plan, extractive, budget(settings, channel), with_inline_citations)

    return source


def budget(settings: Settings, channel: Channel) -> float:
    return {
        Channel.WEB: settings.llm_budget_web_s,
        Channel.WECHAT: settings.llm_budget_wechat_s,
        Channel.OPENAI: settings.llm_budget_openai_s,
    }[channel]


def generate_answer(
    index: PlanIndex,
    question: str,
    settings: Settings,
    generator: Generator | None,
    channel: Channel,
    top_k: int | None = None,
    started: float | None = None,
) -> tuple[Answer, Generation | None]:
    """The extractive answer, rewritten by the LLM when one is configured and its answer passes the checks.

    ``started`` (a ``time.perf_counter()`` value) makes the budget count from the request's arrival.
    """
    started = time.perf_counter() if started is None else started
    extractive = answer(index, question, answer_config(settings), top_k=top_k)
    return rewrite(index, extractive, settings, generator, channel, started)


def rewrite(
    index: PlanIndex,
    extractive: Answer,
    settings: Settings,
    generator: Generator | None,
    channel: Channel,
    started: float | None = None,
) -> tuple[Answer, Generation | None]:
    """``extractive`` rewritten by the LLM when one is configured, applies, and its answer passes the checks."""
    if generator is None or not generator.applies(extractive):
        return extractive, None
    started = time.perf_counter() if started is None else started
    remaining = budget(settings, channel) - (time.perf_counter() - started)
    generation = generator.generate(index.plan, extractive, max(remaining, 0.1))
    return generation.answer, generation


def stream_answer(
    index: PlanIndex,
    question: str,
    settings: Settings,
    generator: Generator | None,
    channel: Channel,
    top_k: int | None = None,
) -> tuple[Answer, AnswerStream | None]:
    """The extractive answer and, when an LLM is configured and applies, a stream of checked text pieces.

    Iterate the stream for the text to send; its ``result.answer`` is the final answer (mode included).
    """
    extractive = answer(index, question, answer_config(settings), top_k=top_k)
    if generator is None or not generator.applies(extractive):
        return extractive, None
    return extractive, generator.stream(index.plan, extractive, budget(settings, channel))


def log_fields(result: Answer, generation: Generation | None = None) -> dict[str, object]:
    fields: dict[str, object] = {"answer_mode": result.mode.value}
    if result.mode_reason:
        fields["answer_mode_reason"] = result.mode_reason
    if generation is not None:
        fields["llm_ms"] = generation.elapsed_ms
        fields["prompt"] = generation.prompt
    return fields


def stream_mode(pieces: Iterable[str]) -> dict[str, object]:
    """After a text source is exhausted: ``{"answer_mode", "answer_mode_reason"}`` for the closing event."""
    result = getattr(pieces, "result", None)
    if result is None:
        return {"answer_mode": "extractive", "answer_mode_reason": None}
    final: Answer = result.answer
    return {"answer_mode": final.mode.value, "answer_mode_reason": final.mode_reason}
