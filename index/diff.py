"""Year over year: two plans of one issuer compared task by task.

Tasks are matched by content, not by number (a task inserted in 2023 renumbers every task after it): each pair's
similarity is the Dice coefficient of their character bigrams with every figure masked (so a changed target does
not make a task look new); the best one-to-one matching (the assignment that
maximises the summed similarity, scipy's ``linear_sum_assignment``) keeps pairs at or above ``MATCH_THRESHOLD``.
Unmatched tasks of the newer plan are new, of the older dropped. For a matched pair:

- wording: the bodies split into clauses (at ，。；), aligned with figures masked; clauses in one year only are
  added or removed, a clause rewritten (half or more of its bigrams kept) is a rewording, the title compared apart;
- figures: aligned clauses whose numbers differ (``0.5个百分点`` → ``1个百分点``, ``第十二届`` → ``第十三届``);
- units: the lead unit(s) changed, units added, units removed (every role: 牵头, 配合, 落实), from the parsed notes.

Comparing plans of different issuers is refused by the caller (``rag/yoy.py``): a different bureau's figure is no
change over time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

import numpy as np

from index.model import Plan, Task
from index.normalize import normalize

MATCH_THRESHOLD = 0.4  # similarity at or above which two tasks are one task of two years
REWORD_THRESHOLD = 0.5  # a clause of the other year sharing this much is the same clause rewritten
# A figure: 25所, 0.5个百分点, 1.5亿元, 93%, 第十三届. Digits with a decimal part; Chinese ordinals of 届/批/次.
_FIGURE = re.compile(r"\d+(?:\.\d+)?|第[一二三四五六七八九十百]+(?=[届批次期轮])")
_CLAUSE_END = re.compile(r"(?<=[，。；;！？])")


class Change(StrEnum):
    NEW = "new"  # in the newer plan only
    DROPPED = "dropped"  # in the older plan only
    REWORDED = "reworded"  # the title or a clause rewritten, or clauses added or removed
    FIGURES = "figures"  # a figure changed in a clause otherwise the same
    LEAD_CHANGED = "lead_changed"
    UNITS_ADDED = "units_added"
    UNITS_REMOVED = "units_removed"
    SAME = "same"


@dataclass(frozen=True)
class TaskChange:
    old: Task | None
    new: Task | None
    similarity: float = 0.0
    title: tuple[str, str] | None = None  # (old title, new title) when it changed
    reworded: tuple[tuple[str, str], ...] = ()  # (old clause, new clause)
    added: tuple[str, ...] = ()  # clauses in the newer plan only
    removed: tuple[str, ...] = ()  # clauses in the older plan only
    figures: tuple[tuple[str, str], ...] = ()  # (old clause, new clause) differing in their figures
    leads: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # (old leads, new leads)
    units_added: tuple[str, ...] = ()
    units_removed: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[Change, ...]:
        if self.old is None:
            return (Change.NEW,)
        if self.new is None:
            return (Change.DROPPED,)
        kinds = []
        if self.title or self.reworded or self.added or self.removed:
            kinds.append(Change.REWORDED)
        if self.figures:
            kinds.append(Change.FIGURES)
        if self.leads[0] != self.leads[1]:
            kinds.append(Change.LEAD_CHANGED)
        if self.units_added:
            kinds.append(Change.UNITS_ADDED)
        if self.units_removed:
            kinds.append(Change.UNITS_REMOVED)
        return tuple(kinds) or (Change.SAME,)


@dataclass(frozen=True)
class PlanDiff:
    old: Plan
    new: Plan
    changes: tuple[TaskChange, ...]  # in the newer plan's order, a dropped task after the one it followed

    def of_kind(self, kind: Change) -> tuple[TaskChange, ...]:
        return tuple(c for c in self.changes if kind in c.kinds)

    def with_old(self, key: int) -> TaskChange | None:
        return next((c for c in self.changes if c.old is not None and c.old.key == key), None)

    def with_new(self, key: int) -> TaskChange | None:
        return next((c for c in self.changes if c.new is not None and c.new.key == key), None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            for k in c.kinds:
                out[k.value] = out.get(k.value, 0) + 1
        return out


def diff_plans(old: Plan, new: Plan, threshold: float = MATCH_THRESHOLD) -> PlanDiff:
    from scipy.optimize import linear_sum_assignment

    olds, news = old.tasks, new.tasks
    scores = np.array([[task_similarity(a, b) for b in news] for a in olds], dtype=np.float64).reshape(
        len(olds), len(news)
    )
    pairs: dict[int, tuple[int, float]] = {}  # new position → (old position, similarity)
    if olds and news:
        rows, cols = linear_sum_assignment(-scores)
        pairs = {
            int(c): (int(r), float(scores[r, c])) for r, c in zip(rows, cols, strict=True) if scores[r, c] >= threshold
        }
    matched_old = {r for r, _ in pairs.values()}
    changes: list[TaskChange] = []
    for j, task in enumerate(news):
        if j in pairs:
            i, similarity = pairs[j]
            changes.append(compare_tasks(olds[i], task, similarity))
        else:
            changes.append(TaskChange(None, task))
    for i, task in enumerate(olds):  # dropped tasks after the change of the old task before them
        if i in matched_old:
            continue
        before = (
            next((k for k, c in enumerate(changes) if c.old is not None and c.old.key == olds[i - 1].key), None)
            if i
            else None
        )
        changes.insert(before + 1 if before is not None else len(changes), TaskChange(task, None))
    return PlanDiff(old, new, tuple(changes))


def compare_tasks(old: Task, new: Task, similarity: float = 1.0) -> TaskChange:
    a, b = clauses(old.body), clauses(new.body)
    matcher = SequenceMatcher(a=[mask(x) for x in a], b=[mask(x) for x in b], autojunk=False)
    figures: list[tuple[str, str]] = []
    reworded: list[tuple[str, str]] = []
    added: list[str] = []
    removed: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            figures += [(x, y) for x, y in zip(a[i1:i2], b[j1:j2], strict=True) if _figures(x) != _figures(y)]
            continue
        left, right = list(a[i1:i2]), list(b[j1:j2])
        for x in list(left):  # pair each old clause with the most alike new one
            best = max(right, key=lambda y: dice(mask(x), mask(y)), default=None)
            if best is not None and dice(mask(x), mask(best)) >= REWORD_THRESHOLD:
                reworded.append((x, best))
                if _figures(x) and _figures(best) and _figures(x) != _figures(best):
                    figures.append((x, best))
                left.remove(x)
                right.remove(best)
        removed += left
        added += right
    old_units, new_units = set(old.units), set(new.units)
    return TaskChange(
        old=old,
        new=new,
        similarity=round(similarity, 4),
        title=(old.title, new.title) if normalize(old.title) != normalize(new.title) else None,
        reworded=tuple(reworded),
        added=tuple(added),
        removed=tuple(removed),
        figures=tuple(figures),
        leads=(old.leads, new.leads),
        units_added=tuple(u for u in new.units if u not in old_units),
        units_removed=tuple(u for u in old.units if u not in new_units),
    )


def task_similarity(a: Task, b: Task) -> float:
    """How alike two tasks read, 0…1: bigram Dice of their whole text with figures masked. (Weighting the title
    more would lose a task whose title was rewritten around the same body:
    提升思想政治工作实效 → 推进思政课改革创新.)"""
    return dice(mask(a.title + a.body), mask(b.title + b.body))


def clauses(text: str) -> list[str]:
    """A body's clauses, each with its closing mark: split at ，。；."""
    return [c.strip() for c in _CLAUSE_END.split(text) if c.strip()]


def mask(text: str) -> str:
    return _FIGURE.sub("#", normalize(text))


def dice(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 1.0 if a == b else 0.0
    common = sum(min(x[g], y[g]) for g in x.keys() & y.keys())
    return 2 * common / (sum(x.values()) + sum(y.values()))


def _bigrams(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in range(len(text) - 1):
        g = text[i : i + 2]
        out[g] = out.get(g, 0) + 1
    return out


def _figures(text: str) -> list[str]:
    return _FIGURE.findall(normalize(text))
