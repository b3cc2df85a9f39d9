"""Streaming a generated answer: the model's text checked sentence by sentence, and what happened, at the end.

A stream shows only checked sentences (``rag.grounding.check``), so a bad answer is cut short; the whole text is
checked once more at the end. Budgets are wall-clock seconds from the call: the HTTP read timeout covers the
wait for the first token, the deadline check between tokens covers the rest. Endpoint errors become a
rejection reason (``timeout``, ``llm_unavailable``, ``llm_error:<status>``), never an exception.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
import openai

from index.model import Plan
from rag.grounding import PASS, Verdict, check, cited_tasks
from rag.llm_context import STRUCTURED, pack_context
from rag.types import Answer, AnswerMode

if TYPE_CHECKING:
    from rag.generator import Generator

log = logging.getLogger("planqa.generate")

# A sentence is complete at 。！？； or a line break, together with a 【第N项】 that follows it at once.
_END = re.compile(r"[。！？!?；;\n]")
_REJECTED_NOTICE = "\n\n（生成的回答未通过核对，以下为计划原文摘录。）\n"


@dataclass(frozen=True)
class Generation:
    """What one generation did, for logs and the eval report."""

    llm_text: str  # the model's text as far as it got (checked or not)
    prompt: str  # e.g. "answer.v1"
    elapsed_ms: float
    first_token_ms: float | None = None


class AnswerStream:
    """Iterate for the text to show, piece by piece; then ``answer`` is the final answer and ``generation``
    what the model did.

    What is streamed: for structured intents the extractive answer first, then the model's checked sentences;
    for fact questions the checked sentences alone. When generation fails after some sentences were shown,
    a notice and the extractive answer follow (fact questions), so the reader always ends with a grounded
    answer; ``answer.text`` is exactly what was streamed.
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
        self.checked = ""  # the part that passed the checks and was shown
        self.first_token_ms: float | None = None
        self.started = time.perf_counter()
        self.answer: Answer | None = None  # set once the stream is exhausted
        self.generation: Generation | None = None
        self._shown: list[str] = []
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop at the model's next token (from any thread): the reader has gone."""
        self._cancelled.set()

    def __iter__(self) -> Iterator[str]:
        structured = self.extractive.intent in STRUCTURED
        if structured:
            yield self._show(self.present(self.extractive) + "\n\n")
        for piece in self._llm_sentences():
            yield self._show(piece)
        if self.verdict is not PASS and not structured:
            yield self._show((_REJECTED_NOTICE if self.checked else "") + self.present(self.extractive))
        self._finish()

    def _show(self, text: str) -> str:
        self._shown.append(text)
        return text

    def _llm_sentences(self) -> Iterator[str]:
        """The model's text, one checked sentence at a time; stops at the first failure and sets ``verdict``."""
        given, context = pack_context(self.plan, self.extractive, self.generator.config.context)
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
                if self._cancelled.is_set():
                    self.verdict = Verdict(False, "cancelled")
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

    def _finish(self) -> None:
        verdict = self.verdict if self.verdict is not None else Verdict(False, "not_finished")
        text = "".join(self._shown).strip()
        if verdict.ok:
            self.answer = replace(self.extractive, text=text, mode=AnswerMode.LLM, mode_reason=None)
        else:
            self.answer = replace(self.extractive, text=text, mode=AnswerMode.LLM_REJECTED, mode_reason=verdict.reason)
        self.generation = Generation(
            llm_text=self.llm_text,
            prompt=self.prompt.id,
            elapsed_ms=round((time.perf_counter() - self.started) * 1000, 1),
            first_token_ms=round(self.first_token_ms, 1) if self.first_token_ms is not None else None,
        )
        log.info(
            "generated answer",
            extra={
                "answer_mode": self.answer.mode.value,
                "answer_mode_reason": self.answer.mode_reason,
                "llm_ms": self.generation.elapsed_ms,
                "first_token_ms": self.generation.first_token_ms,
                "prompt": self.generation.prompt,
            },
        )


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
