"""Presenting an answer: inline citation marks, the text in pieces for streaming, words to highlight."""

from __future__ import annotations

import re
from collections.abc import Iterator

from index.store import PlanIndex
from rag.query import analyze
from rag.types import Answer, Citation, Intent

# A piece ends after 。！？；, a newline, or a "：" that opens a quotation (原文：…).
_PIECE_END = re.compile(r"(?<=[。！？!?；\n])|(?<=原文：)")


def quoted(words: str) -> str:
    """A teacher's words in quotation marks, the marks inside them made single (“‘双减’怎么搞”), as Chinese nests
    quotes. Only for what the teacher wrote: the plan's titles and excerpts are quoted verbatim."""
    return "“" + words.replace("“", "‘").replace("”", "’").replace('"', "'") + "”"


def mark(citation: Citation) -> str:
    """【第8项】, or 【第三部分第2项】 in a plan numbered per section."""
    return f"【{citation.label or f'第{citation.task}项'}】"


def with_inline_citations(answer: Answer) -> str:
    """The answer's text with each citation marked once, at the end of the line that quotes or names it.

    The line quoting the citation's excerpt is preferred, then the line naming its title; a citation the
    text does not mention is marked at the end.
    """
    lines = answer.text.split("\n")
    unplaced: list[Citation] = []
    for c in answer.citations:
        target = _line_with(lines, c.excerpt) if c.excerpt else None
        if target is None:
            target = _line_with(lines, c.title) if c.title else None
        if target is None:
            unplaced.append(c)
        elif mark(c) not in lines[target]:
            lines[target] += mark(c)
    text = "\n".join(lines)
    if unplaced:
        text += "\n出处：" + "".join(mark(c) for c in unplaced)
    return text


def sentence_pieces(text: str) -> Iterator[str]:
    """``text`` cut after each sentence or line; joined back, the pieces are ``text`` exactly."""
    for piece in _PIECE_END.split(text):
        if piece:
            yield piece


def highlight_terms(index: PlanIndex, question: str, answer: Answer) -> tuple[str, ...]:
    """Words of the question worth highlighting in the cited text (its topic words, or the units it names)."""
    if not question.strip():  # answered from the plan directly (a follow-up): the lead unit, if any
        lead = answer.citations[0].lead_unit if answer.citations and answer.intent is Intent.WHO else None
        return (lead,) if lead else ()
    query = analyze(question, index.plan)
    if answer.intent is Intent.REVERSE or query.units:
        return query.units
    if answer.intent in (Intent.WHO, Intent.FACT) and query.intent in (Intent.WHO, Intent.FACT):
        words = index.tokenizer.words(query.topic or query.normalized)
        seen = dict.fromkeys(w for w in words if len(w) >= 2 and not w.isdigit())
        return tuple(seen)
    return ()


def _line_with(lines: list[str], needle: str) -> int | None:
    for i, line in enumerate(lines):
        if needle in line:
            return i
    return None
