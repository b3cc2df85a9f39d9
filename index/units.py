"""Responsible units: the names a plan lists, their aliases, and the tasks each one owns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from index.model import Plan, Role, Task
from index.normalize import normalize

# "基教科等机关各科室": the named unit, then a collective ("and the other departments of the bureau").
_COLLECTIVE = re.compile(r"^(.+?)等(.+)$")
# Unit-like words a question may name: ends in 科/处/室/中心/部门/… ("财务处", "基础教育科").
UNIT_LIKE = re.compile(r"([\u4e00-\u9fff]{1,10}?(?:科|处|室|中心|部门|办公室|委员会|学校|学院|局|党委))")


def split_collective(token: str) -> tuple[str, str | None]:
    """``"基教科等机关各科室"`` → ``("基教科", "机关各科室")``; a plain name → ``(name, None)``."""
    m = _COLLECTIVE.match(token)
    return (m.group(1), m.group(2)) if m else (token, None)


@lru_cache(maxsize=8)
def unit_names(plan: Plan) -> tuple[str, ...]:
    """Every unit named in the plan, collectives reduced to the unit they name (worked out once per plan: query
    analysis asks for them on every question)."""
    seen: dict[str, None] = {}
    for token in plan.units:
        seen.setdefault(split_collective(token)[0], None)
    return tuple(seen)


@dataclass(frozen=True)
class Assignment:
    """A unit's part in one task."""

    task: Task
    role: Role
    collective: bool  # named inside "X等机关各科室", or covered by it

    @property
    def lead(self) -> bool:
        return self.role is Role.LEAD


def tasks_of(plan: Plan, unit: str) -> list[Assignment]:
    """Every task that lists ``unit`` (complete, in plan order), including ones it shares as 'X等机关各科室'."""
    out = []
    for task in plan.tasks:
        for a in task.assigned:
            name, collective = split_collective(a.unit)
            if name == unit:
                out.append(Assignment(task=task, role=a.role, collective=collective is not None))
                break
    return out


def collective_tasks(plan: Plan) -> list[tuple[Task, str]]:
    """Tasks assigned to all of the bureau's departments at once, with the note as written."""
    return [(t, tok) for t in plan.tasks for tok in t.units if split_collective(tok)[1] is not None]


def resolve_unit(plan: Plan, name: str) -> list[str]:
    """The units of ``plan`` that ``name`` may mean, as the plan writes them: itself when the plan has it (normalised),
    else its aliases (``find_units``). One: that unit; none or several: unknown or ambiguous."""
    names = unit_names(plan)
    text = normalize(name)
    return [text] if text in names else find_units(text, names)


def find_units(text: str, names: tuple[str, ...]) -> list[str]:
    """Units named in ``text`` (already normalised): exact names first, then aliases. Names are compared
    normalised ("各县（市、区）教育局" matches "各县(市、区)教育局") and returned as the plan writes them.

    Aliases are recognised by rule, not by a list: a full name whose characters include the short name's in
    order (基础教育科 → 基教科, 体育卫生艺术科 → 体卫艺科), or a shortened tail (考试中心 → 教育考试中心).
    """
    written = _normalized(names)
    found: list[str] = []
    taken = [False] * len(text)
    for name in sorted(written, key=len, reverse=True):
        start = text.find(name)
        while start >= 0:
            if not any(taken[start : start + len(name)]):
                found.append(written[name]) if written[name] not in found else None
                taken[start : start + len(name)] = [True] * len(name)
            start = text.find(name, start + 1)
    for m in UNIT_LIKE.finditer(text):
        if any(taken[m.start() : m.end()]):
            continue
        for span_start in range(m.start(), m.end() - 2):
            span = text[span_start : m.end()]
            matches = [written[n] for n in written if _is_alias(span, n)]
            if matches:
                found.extend(n for n in matches if n not in found)
                break
    return found


@lru_cache(maxsize=8)
def _normalized(names: tuple[str, ...]) -> dict[str, str]:
    """Normalised name → the name as written (a plan's names, computed once per plan)."""
    return {normalize(n): n for n in names}


def _is_alias(span: str, name: str) -> bool:
    if span == name or span[-1] != name[-1]:
        return False
    if span[0] == name[0] and len(span) <= 3 * len(name) and _subsequence(name, span):
        return True  # 基础教育科 ⊇ 基·教·科
    return len(span) >= 4 and name.endswith(span)  # 考试中心 = tail of 教育考试中心


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)
