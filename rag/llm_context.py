"""What the LLM is given: the tasks an extractive answer cites, packed into a short context.

Prompt processing dominates on a CPU, so the context is small: a unit's or a section's tasks by title; for a
who / task answer its one task; for a fact the best task at length (the sentences retrieval matched first, then
the rest in order) and the next ones by title and matched sentence. Each task is headed 【第N项】, the mark the
model must cite.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.model import Plan
from rag.types import Answer, Intent

# Answers whose substance is the plan's structure (units, task numbers): the model only adds a sentence or two.
STRUCTURED = frozenset({Intent.WHO, Intent.REVERSE, Intent.TASK, Intent.SECTION, Intent.ROUNDUP})
_LISTS = frozenset({Intent.REVERSE, Intent.SECTION, Intent.ROUNDUP})


@dataclass(frozen=True)
class ContextConfig:
    max_tasks: int = 3  # tasks given for a fact question
    max_list_tasks: int = 6  # titles given for a unit's or a section's list
    max_task_chars: int = 360  # the best task's text, at most
    max_chars: int = 720  # the whole context, at most


def pack_context(plan: Plan, extractive: Answer, config: ContextConfig) -> tuple[list[int], str]:
    """The task numbers given to the model and the context text, each task headed 【第N项】."""
    numbers = list(dict.fromkeys(c.task for c in extractive.citations))
    listing = extractive.intent in _LISTS
    limit = config.max_list_tasks if listing else 1 if extractive.intent in STRUCTURED else config.max_tasks
    numbers = numbers[:limit]
    given: list[int] = []
    blocks: list[str] = []
    used = 0
    for i, n in enumerate(numbers):
        task = plan.task(n)
        if task is None:
            continue
        if listing:  # titles are what a summary of a list needs
            body = f"{task.title}。"
        else:
            excerpt = next(c.excerpt for c in extractive.citations if c.task == n)
            body = f"{task.title}。{excerpt}"
            if i == 0:  # the best task: then its other sentences, in order, as far as room allows
                rest = "".join(x for x in task.sentences[1:] if x not in excerpt)
                body = (body + rest)[: config.max_task_chars]
        block = f"【第{n}项】{body}"
        if blocks and used + len(block) > config.max_chars:
            break
        given.append(n)
        blocks.append(block)
        used += len(block)
    return given, "\n".join(blocks)
