"""Conversation turns: answer a question as the next turn after the one before, and record what it refers to.

``converse`` is pure: given the previous turn (or None) it returns the new ``Turn``; storing turns is the
session store's job (``rag/sessions.py``), reading the wording the follow-up grammar's (``rag/followup.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from index.model import Plan
from rag.answer import lead_answer, original_answer
from rag.followup import resolve
from rag.limits import MAX_TOP_K
from rag.present import quoted
from rag.query import analyze
from rag.types import Answer, FollowUp, Intent, Turn

# Answers a standalone question: (question, top_k) → Answer. The service passes its cached composer.
Compose = Callable[[str, int], Answer]


def converse(plan: Plan, compose: Compose, previous: Turn | None, question: str, top_k: int) -> Turn:
    """Answer ``question`` (already validated) as the next turn after ``previous``, citing up to ``top_k``."""
    kind, resolved, task_number = resolve(question, previous, plan)
    if kind is FollowUp.MORE and previous is not None:
        result = _more(plan, compose, previous, question, top_k)
    elif kind in (FollowUp.LEAD, FollowUp.ITEM, FollowUp.ORIGINAL):
        task = plan.task(task_number) if task_number is not None and task_number > 0 else None
        if task is None:
            result = _no_such_item(question, task_number, previous)
        elif kind is FollowUp.LEAD:
            result = lead_answer(plan, task, question)
        elif kind is FollowUp.ORIGINAL:
            result = original_answer(plan, task, question)
        else:
            result = replace(compose(f"{task.label}任务是什么", top_k), question=question)
    else:
        result = replace(compose(resolved, top_k), question=question)
    return _turn(plan, question, resolved, kind, result, previous)


def _more(plan: Plan, compose: Compose, previous: Turn, question: str, top_k: int) -> Answer:
    if analyze(previous.base, plan).intent in (Intent.REVERSE, Intent.SECTION, Intent.TASK, Intent.ROUNDUP):  # lists
        text = f"上一个回答已列出全部{len(previous.shown)}项，没有更多了。" if previous.shown else "没有更多了。"
        return Answer(question, text, False, previous.asks)
    # Every related task, not only those an answer cites by default (those close in meaning: rag/answer.py).
    wider = compose(previous.base, MAX_TOP_K)
    new = [c for c in wider.citations if c.task not in previous.shown][:top_k]
    if not new:
        text = f"计划中与{quoted(previous.topic or previous.base)}相关的任务已全部列出，没有更多了。"
        return Answer(question, text, False, previous.asks)
    lines = [f"其他相关任务（{previous.topic or previous.base}）："]
    for c in new:
        task = plan.task(c.task)
        lead = task.lead_unit if task and task.lead_unit else "未列责任单位"
        lines.append(f"{c.label}“{c.title}”（{lead}牵头）：{c.excerpt}")
    return Answer(question, "\n".join(lines), True, previous.asks, tuple(new))


def _no_such_item(question: str, task_number: int | None, previous: Turn | None) -> Answer:
    if previous is not None and not previous.listing:
        text = "上一个回答没有列出任务，无从指代。请直接提问，例如“谁负责近视防控？”。"
    elif task_number is not None and task_number <= 0 and previous is not None:
        text = f"上一个回答只列出了{len(previous.listing)}项，没有第{-task_number}个。"
    else:
        text = f"本计划没有第{task_number}项任务。"
    return Answer(question, text, False, previous.asks if previous else Intent.TASK)


def _turn(plan: Plan, question: str, resolved: str, kind: FollowUp, result: Answer, previous: Turn | None) -> Turn:
    cited = tuple(c.task for c in result.citations)
    asked = analyze(resolved, plan) if resolved else None
    asks = result.intent if result.intent is not Intent.OUT_OF_SCOPE else (asked.intent if asked else Intent.FACT)
    if kind in (FollowUp.LEAD, FollowUp.ITEM, FollowUp.ORIGINAL, FollowUp.MORE) and previous is not None:
        # The previous list stays what "第二个" counts in; "还有哪些" adds to what has been shown.
        more = kind is FollowUp.MORE
        shown = previous.shown + cited if more else previous.shown
        listing = previous.listing + cited if more else previous.listing
        asks = previous.asks if more else (Intent.WHO if kind is FollowUp.LEAD else previous.asks)
        focus = cited[0] if cited else previous.focus
        return Turn(question, resolved, kind, result, asks, previous.topic, previous.base, listing, shown, focus)
    topic = asked.topic if asked else ""
    if not cited and previous is not None:  # not covered: what "它" and "第二个" mean stays as it was
        return Turn(
            question,
            resolved,
            kind,
            result,
            asks,
            topic,
            previous.base,
            previous.listing,
            previous.shown,
            previous.focus,
        )
    return Turn(question, resolved, kind, result, asks, topic, resolved, cited, cited, cited[0] if cited else None)
