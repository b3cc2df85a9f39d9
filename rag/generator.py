"""Optional LLM answers: the model client and its configuration.

The extractive answer (``rag.answer``) is always computed first; it decides what the model sees (the tasks it
cites, packed by ``rag.llm_context``) and is what the caller gets back whenever generation is not used. Then:

- fact questions: the model's text replaces the extractive one (the citations stay those of retrieval);
- who / unit / task / section questions: the structured answer (units and task numbers from the parsed plan)
  comes first, verbatim, and the model's one or two sentences follow it;
- nothing found: no model call at all.

The text is checked while it streams (``rag.answer_stream``); a failed check, a timeout or an unreachable
endpoint gives the extractive answer with ``mode = llm_rejected`` and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import MissingDependencyError
from index.model import Plan
from rag.answer_stream import AnswerStream
from rag.limits import LLM_MAX_TOKENS
from rag.llm_context import STRUCTURED, ContextConfig
from rag.prompts import PROMPTS_DIR, Prompt, load_prompt
from rag.types import Answer


@dataclass(frozen=True)
class LLMConfig:
    base_url: str  # any OpenAI-compatible endpoint: DeepSeek, Qwen, vLLM, Ollama, llama.cpp's server
    model: str
    api_key: str = "not-needed"  # local servers ignore it; the openai client insists on one
    max_tokens: int = LLM_MAX_TOKENS
    temperature: float = 0.0
    answer_prompt: str = "answer"  # prompts/answer.v<N>.md, for fact questions
    explain_prompt: str = "explain"  # prompts/explain.v<N>.md, around a structured answer
    prompt_version: int | None = None  # None: the highest version of each
    prompts_dir: Path = PROMPTS_DIR
    context: ContextConfig = field(default_factory=ContextConfig)


class Generator:
    """Writes answers with a chat model behind an OpenAI-compatible endpoint (LangChain ``ChatOpenAI``)."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._models: dict[float, Any] = {}
        self._prompts = {
            name: load_prompt(name, config.prompt_version, config.prompts_dir)
            for name in (config.answer_prompt, config.explain_prompt)
        }

    def applies(self, extractive: Answer) -> bool:
        """Only answers that found something are rewritten; "not covered" stays as composed."""
        return extractive.found and bool(extractive.citations)

    def stream(
        self, plan: Plan, extractive: Answer, budget_s: float, present: Callable[[Answer], str] | None = None
    ) -> AnswerStream:
        """An iterator of text pieces (checked sentences); ``.answer`` holds the final answer once exhausted.

        ``present`` renders the extractive answer where the stream shows it (default: its text as is).
        """
        return AnswerStream(self, plan, extractive, budget_s, present)

    def prompt_for(self, extractive: Answer) -> Prompt:
        name = self.config.explain_prompt if extractive.intent in STRUCTURED else self.config.answer_prompt
        return self._prompts[name]

    def model(self, budget_s: float) -> Any:
        """A ChatOpenAI whose HTTP timeout is the budget; one per distinct budget, reused across calls."""
        key = round(budget_s, 1)
        if key not in self._models:
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as e:  # a dependency of planqa; only a broken install lacks it
                raise MissingDependencyError(
                    "缺少 langchain-openai。langchain-openai is missing: pip install -e . again."
                ) from e
            self._models[key] = ChatOpenAI(
                base_url=self.config.base_url,
                model=self.config.model,
                api_key=self.config.api_key,  # type: ignore[arg-type]
                temperature=self.config.temperature,
                max_completion_tokens=self.config.max_tokens,
                timeout=max(key, 0.1),
                max_retries=0,  # a retry would blow the budget; the extractive answer is the fallback
                streaming=True,
            )
        return self._models[key]
