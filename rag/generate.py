"""Optional LLM answers: written over the retrieved tasks only, checked, and dropped when they fail.

The extractive answer (``rag.answer``) is always computed first; it decides what the model sees (the tasks it
cites) and is what the caller gets back whenever generation is not used. Then:

- fact questions: the model's text replaces the extractive one (the citations stay those of retrieval);
- who / unit / task / section questions: the structured answer (units and task numbers from the parsed plan)
  comes first, verbatim, and the model's one or two sentences follow it;
- nothing found: no model call at all.

The model's text is checked sentence by sentence while it streams (``rag.grounding.check``), so a stream shows
only checked sentences and a bad answer is cut short; the whole text is checked once more at the end. A failed
check, a timeout or an unreachable endpoint gives the extractive answer with ``mode = llm_rejected`` and the
reason. Budgets are wall-clock seconds from the call: the HTTP read timeout covers the wait for the first
token, the deadline check between tokens covers the rest.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import openai

from rag.grounding import PASS, Verdict, check, cited_tasks
from rag.prompts import PROMPTS_DIR, Prompt, load_prompt
from rag.types import Answer, AnswerMode, Intent, Plan

log = logging.getLogger("planqa.generate")

STRUCTURED = frozenset({Intent.WHO, Intent.REVERSE, Intent.TASK, Intent.SECTION})
# A sentence is complete at 。！？； or a line break, together with a 【第N项】 that follows it at once.
_END = re.compile(r"[。！？!?；;\n]")
_REJECTED_NOTICE = "\n\n（生成的回答未通过核对，以下为计划原文摘录。）\n"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str  # any OpenAI-compatible endpoint: DeepSeek, Qwen, vLLM, Ollama, llama.cpp's server
    model: str
    api_key: str = "not-needed"  # local servers ignore it; the openai client insists on one
    max_tokens: int = 110  # ~100 Chinese characters and the citations; a cut-off last sentence is dropped
    temperature: float = 0.0
    answer_prompt: str = "answer"  # prompts/answer.v<N>.md, for fact questions
    explain_prompt: str = "explain"  # prompts/explain.v<N>.md, around a structured answer
    prompt_version: int | None = None  # None: the highest version of each
    prompts_dir: Path = PROMPTS_DIR
    max_context_tasks: int = 3
    # Prompt processing dominates on a CPU (1.5B model, 2 cores), so only the best task goes in at length
    # (the sentences retrieval matched first); the others contribute their title and matched sentences.
    max_task_chars: int = 360
    max_context_chars: int = 720


@dataclass(frozen=True)
class Generation:
    """What one generation did: the final answer (with its mode), and what the model wrote, for eval."""

    answer: Answer
    llm_text: str  # the model's text as far as it got (checked or not)
    prompt: str  # e.g. "answer.v1"
    elapsed_ms: float
    first_token_ms: float | None = None

    @property
    def mode(self) -> AnswerMode:
        return self.answer.mode


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

    def generate(self, plan: Plan, extractive: Answer, budget_s: float) -> Generation:
        """The checked LLM answer, or ``extractive`` with the reason it was not used."""
        stream = self.stream(plan, extractive, budget_s)
        for _ in stream.llm_segments():
            pass
        return stream.result_for(streamed=False)

    def stream(
        self, plan: Plan, extractive: Answer, budget_s: float, present: Callable[[Answer], str] | None = None
    ) -> AnswerStream:
        """An iterator of text pieces (checked sentences); ``.result`` holds the Generation once exhausted.

        ``present`` renders the extractive answer where the stream shows it (default: its text as is).
        """
        return AnswerStream(self, plan, extractive, budget_s, present)

    def prompt_for(self, extractive: Answer) -> Prompt:
        name = self.config.explain_prompt if extractive.intent in STRUCTURED else self.config.answer_prompt
        return self._prompts[name]

    def context(self, plan: Plan, extractive: Answer) -> tuple[list[int], str]:
        """The task numbers given to the model and the context text, each task headed 【第N项】."""
        cfg = self.config
        numbers = list(dict.fromkeys(c.task for c in extractive.citations))
        structured_list = extractive.intent in (Intent.REVERSE, Intent.SECTION)
        # A unit's or a section's tasks: their titles. A who / task answer: its (first) task, which the
        # structured part names. A fact: the best few.
        limit = 6 if structured_list else 1 if extractive.intent in STRUCTURED else cfg.max_context_tasks
        numbers = numbers[:limit]
        blocks: list[str] = []
        used = 0
        for i, n in enumerate(numbers):
            task = plan.task(n)
            if task is None:
                continue
            if structured_list:  # a unit's or a section's tasks: titles are what a summary needs
                body = f"{task.title}。"
            else:
                excerpt = next(c.excerpt for c in extractive.citations if c.task == n)
                body = f"{task.title}。{excerpt}"
                if i == 0:  # the best task: then its other sentences, in order, as far as room allows
                    rest = "".join(x for x in task.sentences[1:] if x not in excerpt)
                    body = (body + rest)[: cfg.max_task_chars]
            block = f"【第{n}项】{body}"
            if blocks and used + len(block) > cfg.max_context_chars:
                numbers = numbers[: len(blocks)]
                break
            blocks.append(block)
            used += len(block)
        return numbers[: len(blocks)], "\n".join(blocks)

    def model(self, budget_s: float) -> Any:
        """A ChatOpenAI whose HTTP timeout is the budget; one per distinct budget, reused across calls."""
        key = round(budget_s, 1)
        if key not in self._models:
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as e:  # a dependency of planqa; only a broken install lacks it
                from rag.errors import MissingDependencyError

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


class AnswerStream:
    """Iterate for the text to show, piece by piece; then ``result`` is the Generation.

    What is streamed: for structured intents the extractive answer first, then the model's checked sentences;
    for fact questions the checked sentences alone. When generation fails after some sentences were shown,
    a notice and the extractive answer follow (fact questions), so the reader always ends with a grounded
    answer; ``result.answer.text`` is then exactly what was streamed.
    """

    def __init__(
        self,
        generator: Generator,
        plan: Plan,
        extractive: Answer,
        budget_s: float,
        present: Callable[[Answer], str] | None = None,
    ) -> None:
        self.generator, self.plan, self.extractive, self.budget_s = generator, plan, extractive, budget_s
        self.present = present or (lambda a: a.text)
        self.prompt = generator.prompt_for(extractive)
        self.verdict: Verdict | None = None
        self.llm_text = ""  # everything the model produced
        self.checked = ""  # the part that passed the checks and was (or would be) shown
        self.first_token_ms: float | None = None
        self.started = time.perf_counter()
        self.result: Generation | None = None
        self._shown: list[str] = []

    def __iter__(self) -> Iterator[str]:
        structured = self.extractive.intent in STRUCTURED
        if not self.generator.applies(self.extractive):
            yield self._show(self.present(self.extractive))
            self.result = self.result_for(streamed=True)
            return
        if structured:
            yield self._show(self.present(self.extractive) + "\n\n")
        for piece in self.llm_segments():
            yield self._show(piece)
        if self.verdict is not PASS and not structured:
            yield self._show((_REJECTED_NOTICE if self.checked else "") + self.present(self.extractive))
        self.result = self.result_for(streamed=True)

    def _show(self, text: str) -> str:
        self._shown.append(text)
        return text

    def llm_segments(self) -> Iterator[str]:
        """The model's text, one checked sentence at a time; stops at the first failure and sets ``verdict``."""
        if not self.generator.applies(self.extractive):
            self.verdict = Verdict(False, "not_applicable")
            return
        given, context = self.generator.context(self.plan, self.extractive)
        messages = self.prompt.template.format_messages(context=context, question=self.extractive.question)
        deadline = self.started + self.budget_s
        pending = ""
        chunks = None
        finish = None
        try:
            chunks = self.generator.model(self.budget_s).stream(messages)
            for chunk in chunks:
                piece = chunk.content if isinstance(chunk.content, str) else ""
                finish = chunk.response_metadata.get("finish_reason") or finish
                if piece and self.first_token_ms is None:
                    self.first_token_ms = (time.perf_counter() - self.started) * 1000
                self.llm_text += piece
                pending += piece
                ready, pending = _complete_sentences(pending)
                if ready:
                    verdict = self._check(self.checked + ready, given, final=False)
                    if not verdict:
                        self.verdict = verdict
                        return
                    self.checked += ready
                    yield ready
                if time.perf_counter() > deadline:
                    self.verdict = Verdict(False, "timeout")
                    return
            if finish == "length" and self.checked:
                pending = ""  # cut off mid-sentence by max_tokens: keep the complete sentences only
            if len(given) == 1 and not cited_tasks(self.checked + pending):
                pending = pending.rstrip() + f"【第{given[0]}项】"  # over one task, the source is not in doubt
            verdict = self._check(self.checked + pending, given, final=True)
            if not verdict:
                self.verdict = verdict
                return
            self.checked += pending
            self.verdict = PASS
            if pending:
                yield pending
        except openai.APITimeoutError:
            self.verdict = Verdict(False, "timeout")
        except (openai.APIConnectionError, httpx.TransportError) as e:
            self.verdict = Verdict(False, "llm_unavailable")
            log.warning(
                "LLM endpoint %s unreachable (%s): answering extractively; check PLANQA_LLM_BASE_URL",
                self.generator.config.base_url,
                type(e.__cause__ or e).__name__,
                extra={"answer_mode": "llm_rejected", "answer_mode_reason": "llm_unavailable"},
            )
        except openai.APIError as e:
            status = getattr(e, "status_code", None) or type(e).__name__
            self.verdict = Verdict(False, f"llm_error:{status}")
            log.warning(
                "LLM endpoint %s answered with an error (%s): answering extractively",
                self.generator.config.base_url,
                str(e)[:200],
                extra={"answer_mode": "llm_rejected", "answer_mode_reason": f"llm_error:{status}"},
            )
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()  # stop the server generating for a reader who has gone

    def _check(self, text: str, given: list[int], final: bool) -> Verdict:
        return check(text, self.plan, given, question=self.extractive.question, evidence=True, final=final)

    def result_for(self, streamed: bool) -> Generation:
        extractive = self.extractive
        verdict = self.verdict
        if verdict is None or verdict.reason == "not_applicable":
            final = extractive
        elif verdict.ok:
            text = self.checked.strip()
            if extractive.intent in STRUCTURED:
                text = f"{extractive.text}\n\n{text}"
            final = replace(extractive, text=text, mode=AnswerMode.LLM, mode_reason=None)
        else:
            final = replace(extractive, mode=AnswerMode.LLM_REJECTED, mode_reason=verdict.reason)
        if streamed and self._shown:
            final = replace(final, text="".join(self._shown).strip())
        generation = Generation(
            answer=final,
            llm_text=self.llm_text,
            prompt=self.prompt.id,
            elapsed_ms=round((time.perf_counter() - self.started) * 1000, 1),
            first_token_ms=round(self.first_token_ms, 1) if self.first_token_ms is not None else None,
        )
        if verdict is not None and verdict.reason != "not_applicable":
            log.info(
                "generated answer",
                extra={
                    "answer_mode": final.mode.value,
                    "answer_mode_reason": final.mode_reason,
                    "llm_ms": generation.elapsed_ms,
                    "first_token_ms": generation.first_token_ms,
                    "prompt": generation.prompt,
                },
            )
        return generation


def _complete_sentences(text: str) -> tuple[str, str]:
    """Split ``text`` into (complete sentences, the rest still being written).

    A sentence is complete once its end mark is followed by something other than a citation; a citation
    right after the mark (``…。【第8项】``) belongs to the sentence, so the split waits for its ``】``.
    """
    cut = 0
    for m in _END.finditer(text):
        end = m.end()
        rest = text[end:]
        if not rest:
            break
        if rest.startswith("【"):
            close = rest.find("】")
            if close < 0:
                break
            end += close + 1
        if end > cut:
            cut = end
    return text[:cut], text[cut:]
