"""Chunking by task: every sentence of every task is a chunk that remembers its task (parent-document retrieval).

The task, not the chunk, is the unit of citation; a chunk is only what the retrievers rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.model import Plan
from index.normalize import normalize

# “三全育人”, 《红色文化》: quoted terms a plan coins, which jieba should keep whole.
_QUOTED = re.compile(r"[“\"《]([^”\"》]{2,20})[”\"》]")


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece: one sentence of one task."""

    task: int  # Task.key
    sentence: int
    text: str


def chunk_plan(plan: Plan) -> list[Chunk]:
    return [Chunk(t.key, i, s) for t in plan.tasks for i, s in enumerate(t.sentences)]


def plan_vocabulary(plan: Plan) -> list[str]:
    """Words jieba should keep whole: unit names, quoted terms (“三全育人”, 《红色文化》) and task titles."""
    words = {normalize(u) for u in plan.units}
    for task in plan.tasks:
        words.update(normalize(q) for q in _QUOTED.findall(task.body))
        words.add(normalize(task.title))
    return sorted(w for w in words if 2 <= len(w) <= 20)
