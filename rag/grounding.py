"""Checks a generated answer against the plan before anyone sees it.

A small model is useful for phrasing and dangerous for facts (measured: it answered "谁负责近视防控?" with
"没有提到" while holding task 8, and cited 【第1项】 for a sentence of task 14). So a generated text passes only
when:

1. every task it refers to (``【第8项】`` or ``第8项``) is among the tasks it was given;
2. it refers to at least one of them (``final`` checks only: a streamed prefix may not have cited yet);
3. every number in it (``30%``, ``2021``, ``十四五``) appears in the text of the tasks it cites (all the given
   tasks while it has cited none yet), the question or the plan's title;
4. every unit name in it (aliases resolved, 基础教育科 → 基教科) is listed by, or written in, a cited task;
5. it does not say the plan is silent ("没有提到", "未提及", "无法回答"…) when retrieval found evidence.

A failed check names itself in the reason (``uncited_task:12``, ``number_not_in_source:35%``), which becomes
the answer's ``mode_reason``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from index.model import Plan, Task
from index.normalize import normalize, parse_cn_number
from index.units import find_units, split_collective, unit_names

# 【第8项】, 第 8 项, 第十二项, 第8、9项 (the second number is caught by _TASK_LIST).
_TASK_REF = re.compile(r"【?第\s*([0-9]{1,3}|[〇零一二三四五六七八九十百两]{1,4})\s*(?:项|条)(?:任务)?】?")
_TASK_LIST = re.compile(r"第\s*([0-9]{1,3})((?:\s*[、,和及与]\s*[0-9]{1,3})+)\s*项")
# Numbers: Arabic (after NFKC, so full-width digits count), with a decimal part and a per cent sign.
_ARABIC = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)(%?)")
# Chinese numerals of two characters or more (十四五, 一百, 三十); single ones are too common in words
# (统一, 一流, 三全育人) to tell apart from numbers.
_CN_NUMBER = re.compile(r"[〇零一二三四五六七八九十百千万亿两]{2,}")
# "The plan does not say": refusals a small model produces when it did not read its context.
_SILENT = re.compile(
    r"没有(?:提到|提及|涉及|说明|明确|具体|相关|找到)|未(?:提到|提及|涉及|说明|明确|列出|找到)|并未|"
    r"无法(?:回答|确定|找到)|不清楚|找不到|没有.{0,8}(?:内容|信息|规定|描述)"
)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None = None  # e.g. "uncited_task:12"; None when ok

    def __bool__(self) -> bool:
        return self.ok


PASS = Verdict(True)


def cited_tasks(text: str) -> list[int]:
    """Task numbers the text refers to, in order of first mention."""
    text = normalize(text)
    found: list[int] = []
    for m in _TASK_REF.finditer(text):
        n = parse_cn_number(m.group(1))
        if n is not None and n not in found:
            found.append(n)
    for m in _TASK_LIST.finditer(text):
        for piece in re.findall(r"[0-9]{1,3}", m.group(0)):
            if int(piece) not in found:
                found.append(int(piece))
    return found


def numbers_in(text: str) -> list[str]:
    """The numbers a text states, task references excluded: ``["30%", "2021", "十四五"]``."""
    text = _TASK_LIST.sub(" ", _TASK_REF.sub(" ", normalize(text)))
    found = [num + pct for num, pct in _ARABIC.findall(text)]
    found += _CN_NUMBER.findall(text)
    return list(dict.fromkeys(found))


def check(
    text: str,
    plan: Plan,
    given: Iterable[int],
    *,
    question: str = "",
    evidence: bool = True,
    final: bool = True,
) -> Verdict:
    """Whether ``text`` (generated over the tasks numbered ``given``) may be shown; see the module doc."""
    given = list(given)
    norm = normalize(text)
    if final and not norm.strip():
        return Verdict(False, "empty")
    cited = cited_tasks(norm)
    for n in cited:
        if n not in given:
            return Verdict(False, f"uncited_task:{n}")
    if final and not cited:
        return Verdict(False, "no_citation")
    sources = [t for n in (cited or given) if (t := plan.task(n)) is not None]
    source = normalize("\n".join([*(t.text for t in sources), question, plan.title]))
    for number in numbers_in(norm):
        if not _has_number(source, number):
            return Verdict(False, f"number_not_in_source:{number}")
    allowed_units = _units_of(sources)
    for unit in find_units(norm, unit_names(plan)):
        if unit not in allowed_units and unit not in source:
            return Verdict(False, f"unit_not_in_source:{unit}")
    if evidence and (m := _SILENT.search(norm)):
        return Verdict(False, f"claims_not_mentioned:{m.group(0)}")
    return PASS


def _has_number(source: str, number: str) -> bool:
    if not number[0].isdigit():
        return number in source
    digits = number.rstrip("%")
    pattern = rf"(?<![0-9.]){re.escape(digits)}(?![0-9]|\.[0-9])" + ("%" if number.endswith("%") else "")
    return re.search(pattern, source) is not None


def _units_of(tasks: list[Task]) -> set[str]:
    return {split_collective(u)[0] for t in tasks for u in t.units}
