"""Year-over-year questions: "近视防控今年和去年比有什么变化?", "2023年新增了哪些任务?", "哪些任务的牵头单位换了?".

A question compares when it names two plans ("萍乡2021年和青山2023年比", "今年…去年…"), says it compares (比去年,
相比, 对比), or asks what changed (变化, 变了吗, 新增了哪些任务, 少了哪个单位, 今年有…了吗) of a plan whose issuer has
an earlier plan in the library. Two plans of different issuers are not compared (a different bureau's figure is no
change over time), nor a plan with no earlier year: the answer says why.

What is compared (``index/diff.py`` matches the tasks): the tasks the question names by number in either plan
("2023年的第16项…2022年的第15项"), else the task its topic finds (each plan's own answer to the topic, its gate
deciding whether the plan covers it at all), else — no topic — the changes of the kind asked (new tasks, dropped
ones, lead units changed, units changed), else a summary. Each change cites the task in both plans.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from index.diff import Change, PlanDiff, TaskChange, diff_plans
from index.errors import PlanQAError
from index.model import Task
from index.normalize import normalize
from rag.answer import citation
from rag.query import task_refs
from rag.routing import Reading
from rag.service import Reply
from rag.types import Answer, ChangeRef, Citation, Comparison, Intent

if TYPE_CHECKING:
    from rag.library import LibraryService, PlanEntry, Shelf

# Says it compares: always a comparison (refused when there is nothing to compare with).
_COMPARES = re.compile(r"比去年|比前年|和去年|跟去年|与去年|同去年|相比|对比|比较|比起|和上一年|上一年度")
# Asks what changed: a comparison when the plan's issuer has an earlier plan in the library.
_CHANGED = re.compile(
    r"变化|变了|改了|改动|调整了|不同|区别|换了|换牵头|新增了?哪些|新增了?什么|新加|增加了哪些|多了|少了|加了|涨了|降了|"
    r"没了|取消|去掉|删去|删除|不再|还有这|(?:今年|这次).{0,15}(?:了吗|了没有)"
)
_ASKS_NEW = re.compile(r"新增|新加|增加了哪些|多了哪些任务|新的任务")
_ASKS_DROPPED = re.compile(r"没了|取消|去掉|删去|删除|不再|还有这")
_ASKS_LEAD = re.compile(r"牵头")
_ASKS_UNIT_CHANGES = re.compile(r"单位|科室|处室|部门")
# What is left of a comparison once its plans and its asking are taken out: the topic.
_NOT_TOPIC = re.compile(
    r"今年|去年|前年|有什么|有何|有哪些|有没有|什么|哪些|哪个|哪项|变化|变了|没有|改了|改动|调整|不同|区别|相比|对比|比较|比起|"
    r"换了|换|是不是|就是|新增|增加|多了|少了|加了|涨了|降了|多少|没了|取消|去掉|删去|删除|不再|还有|这一项|这项|那项|"
    r"了吗|吗|呢|了|和|与|跟|同|比|的|要求|内容|情况|任务|工作|计划|要点|单位|科室|谁|严了|多还是少|还是"
)


class ComparisonRefused(PlanQAError):
    """Two plans that are not one issuer's years, or a plan with no other year."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def comparison_asked(reading: Reading, shelf: Shelf) -> tuple[str | None, str | None] | None:
    """(older plan, newer plan) when the question compares; None for a question about one plan."""
    text = reading.question
    compares, changed = bool(_COMPARES.search(text)), bool(_CHANGED.search(text))
    refs = [r for r in reading.references if r.names]
    named = [r.plan for r in refs]
    if len(named) >= 2 and (named[0] != named[1] or compares):
        if named[0] and named[1] and named[0] != named[1]:
            pair = sorted((named[0], named[1]), key=lambda p: (shelf.entries[p].meta.year or 0, p))
            return pair[0], pair[1]
        if compares or changed:
            return None, named[0] or named[1]
        return None
    if not (compares or changed):
        return None
    base = named[0] if named else shelf.default
    if base is None:
        return None
    earlier = previous_plan(shelf, base)
    if earlier is None:
        return (None, base) if compares else None
    return earlier, base


def previous_plan(shelf: Shelf, plan_id: str) -> str | None:
    """The same issuer's latest plan before ``plan_id``'s year."""
    meta = shelf.entries[plan_id].meta
    if not meta.issuer or meta.year is None:
        return None
    earlier = [
        e.meta for e in shelf.entries.values() if e.meta.issuer == meta.issuer and (e.meta.year or 0) < meta.year
    ]
    return max(earlier, key=lambda m: m.year or 0).id if earlier else None


class Comparisons:
    """Year-over-year answers over a library, each pair's diff computed once per pair of loaded indexes."""

    def __init__(self, library: LibraryService) -> None:
        self.library = library
        self._diffs: dict[tuple[str, str], PlanDiff] = {}
        self._lock = threading.Lock()

    def diff(self, old_id: str, new_id: str) -> tuple[PlanEntry, PlanEntry, PlanDiff]:
        """The two plans (older first) and their diff. ComparisonRefused for different issuers."""
        a, b = self.library.entry(old_id), self.library.entry(new_id)
        if (a.meta.year or 0, a.meta.id) > (b.meta.year or 0, b.meta.id):
            a, b = b, a
        if a.meta.id == b.meta.id:
            raise ComparisonRefused(f"不能把《{a.meta.title}》和它自己比较。Compare two different plans.", "same_plan")
        if not a.meta.issuer or a.meta.issuer != b.meta.issuer:
            raise ComparisonRefused(
                f"《{a.meta.title}》和《{b.meta.title}》出自不同的发文单位"
                f"（{a.meta.issuer or '未知'}、{b.meta.issuer or '未知'}），"
                "不是同一单位前后年份的计划，不作年度比较；可以分别提问。"
                f"{a.meta.id} and {b.meta.id} have different issuers: a year-over-year comparison needs two plans "
                "of one issuer.",
                "different_issuers",
            )
        key = (a.service.index.manifest.version, b.service.index.manifest.version)
        with self._lock:
            diff = self._diffs.get(key)
        if diff is None:
            diff = diff_plans(a.plan, b.plan)
            with self._lock:
                self._diffs[key] = diff
        return a, b, diff

    def answer(self, reading: Reading, pair: tuple[str | None, str | None]) -> Reply:
        old_id, new_id = pair
        question = reading.question
        if old_id is None or new_id is None:
            only = self.library.entry(new_id or old_id)
            text = (
                f"计划库中只有《{only.meta.title}》，没有{only.meta.issuer or '该单位'}其他年份的计划，无法作年度比较。"
                "可以直接问这一份计划的内容。"
            )
            return _refusal(question, text, only, Comparison(old_id, new_id, "no_other_year"))
        try:
            old, new, diff = self.diff(old_id, new_id)
        except ComparisonRefused as e:
            entry = self.library.entry(new_id)
            text = str(e).split("。")[0] + "。" + "可以分别提问，例如在问题中写明年份和地区。"
            return _refusal(question, text, entry, Comparison(old_id, new_id, e.reason))
        changes, best = self._select(reading, old, new, diff)
        labels = _labels(old, new)
        lines = [f"《{new.meta.title}》与《{old.meta.title}》相比："]
        if not changes:
            lines.append("两份计划中都没有找到这项内容。")
        for change in changes:
            lines += describe(change, labels, best.get(id(change), ""))
        citations: list[Citation] = []
        for change in changes:
            if change.new is not None:
                citations.append(_cite(new, change.new, _excerpt(change, new=True)))
            if change.old is not None:
                citations.append(_cite(old, change.old, _excerpt(change, new=False)))
        refs = tuple(
            ChangeRef(c.old.ref if c.old else None, c.new.ref if c.new else None, tuple(k.value for k in c.kinds))
            for c in changes
        )
        answer = Answer(question, "\n".join(lines), bool(changes), Intent.COMPARE, tuple(citations))
        return Reply(answer, plan=new.meta, comparison=Comparison(old.meta.id, new.meta.id, "", refs))

    def _select(
        self, reading: Reading, old: PlanEntry, new: PlanEntry, diff: PlanDiff
    ) -> tuple[list[TaskChange], dict[int, str]]:
        """The changes the question is about, and for a topic, the sentence that found it in each change."""
        by_ref = _named_tasks(reading, old, new)
        if by_ref:
            picked: list[TaskChange] = []
            for plan_id, key in by_ref:
                change = diff.with_old(key) if plan_id == old.meta.id else diff.with_new(key)
                if change is not None and change not in picked:
                    picked.append(change)
            return picked, {}
        topic = _topic(reading.remainder)
        if topic:
            found: list[TaskChange] = []
            sentences: dict[int, str] = {}
            for entry, is_new in ((new, True), (old, False)):
                answer = entry.service.compose(topic, 3)  # further tasks are cited only when they say it all too
                if not answer.found:
                    continue
                for cited in answer.citations:
                    change = diff.with_new(cited.task) if is_new else diff.with_old(cited.task)
                    if change is not None and change not in found:
                        found.append(change)
                        sentences[id(change)] = cited.excerpt
            return found, sentences
        text = reading.question
        if _ASKS_NEW.search(text):
            return list(diff.of_kind(Change.NEW)), {}
        if _ASKS_DROPPED.search(text):
            return list(diff.of_kind(Change.DROPPED)), {}
        if _ASKS_LEAD.search(text):
            return list(diff.of_kind(Change.LEAD_CHANGED)), {}
        if _ASKS_UNIT_CHANGES.search(text):
            return [c for c in diff.changes if c.units_added or c.units_removed], {}
        return [c for c in diff.changes if Change.SAME not in c.kinds], {}


def describe(change: TaskChange, labels: tuple[str, str], sentence: str = "") -> list[str]:
    """The lines that say what changed in one task."""
    old_label, new_label = labels
    if change.old is None:
        assert change.new is not None
        return [f"· 新增任务：{new_label}{change.new.label}“{change.new.title}”（{_leads(change.new)}）"]
    if change.new is None:
        return [f"· 不再列出：{old_label}{change.old.label}“{change.old.title}”（{_leads(change.old)}）"]
    old, new = change.old, change.new
    head = f"{new_label}{new.label}“{new.title}”"
    if old.ref != new.ref or change.title:
        head += f"（{old_label}为{old.label}“{old.title}”）"
    lines = [f"{head}："]
    if change.title:
        lines.append(f"  标题：{change.title[0]} → {change.title[1]}")
    shown = set(change.figures)
    lines += [f"  数字：{a} → {b}" for a, b in change.figures]
    lines += [f"  表述：{a} → {b}" for a, b in change.reworded if (a, b) not in shown]
    lines += [f"  新增内容：{x}" for x in change.added]
    lines += [f"  删去内容：{x}" for x in change.removed]
    old_leads, new_leads = change.leads
    if old_leads != new_leads:
        lines.append(f"  牵头单位：{'、'.join(old_leads) or '（未列）'} → {'、'.join(new_leads) or '（未列）'}")
    elif new_leads:
        lines.append(f"  牵头单位未变：{'、'.join(new_leads)}")
    if change.units_added:
        lines.append(f"  新增单位：{'、'.join(change.units_added)}")
    if change.units_removed:
        lines.append(f"  不再列出的单位：{'、'.join(change.units_removed)}")
    if Change.SAME in change.kinds:
        lines.append("  内容没有变化。")
    if sentence and not change.figures:
        lines.append(f"  原文（{new_label}）：{sentence}")
    return lines


def _leads(task: Task) -> str:
    return f"{'、'.join(task.leads)}牵头" if task.leads else "未列牵头单位"


def _labels(old: PlanEntry, new: PlanEntry) -> tuple[str, str]:
    if old.meta.year and new.meta.year and old.meta.year != new.meta.year:
        return f"{old.meta.year}年", f"{new.meta.year}年"
    return f"《{old.meta.title}》", f"《{new.meta.title}》"


def _excerpt(change: TaskChange, new: bool) -> str:
    side = 1 if new else 0
    if change.figures:
        return change.figures[0][side]
    if change.reworded:
        return change.reworded[0][side]
    task = change.new if new else change.old
    assert task is not None
    return task.sentences[0] if task.sentences else task.title


def _cite(entry: PlanEntry, task: Task, excerpt: str) -> Citation:
    return replace(citation(entry.plan, task, excerpt), plan=entry.meta.id, plan_title=entry.meta.title)


def _refusal(question: str, text: str, entry: PlanEntry, comparison: Comparison) -> Reply:
    answer = Answer(question, text, False, Intent.COMPARE)
    return Reply(answer, plan=entry.meta, comparison=comparison)


def _named_tasks(reading: Reading, old: PlanEntry, new: PlanEntry) -> list[tuple[str, int]]:
    """Tasks the question names by number, each in the plan named just before it (else the newer plan)."""
    out: list[tuple[str, int]] = []
    starts = sorted((n.start, r.plan) for r in reading.references if r.plan for n in r.names)
    for number, at in task_refs(reading.question):
        plan_id = next((p for s, p in reversed(starts) if s < at), new.meta.id)
        entry = old if plan_id == old.meta.id else new
        task = next(iter(entry.plan.numbered(number)), None)
        if task is not None:
            out.append((entry.meta.id, task.key))
    return out


def _topic(remainder: str) -> str:
    text = _NOT_TOPIC.sub("", normalize(remainder))
    text = re.sub(r"[\s,，。.?？!！、：:“”\"']+", "", text)
    return text if len(text) >= 2 else ""


def describe_diff(old: PlanEntry, new: PlanEntry, diff: PlanDiff) -> str:
    """The whole comparison as text (``planqa diff``): counts, then every change."""
    labels = _labels(old, new)
    names = {
        "new": "新增",
        "dropped": "不再列出",
        "reworded": "表述调整",
        "figures": "数字变化",
        "lead_changed": "牵头单位变化",
        "units_added": "增加单位",
        "units_removed": "减少单位",
        "same": "未变",
    }
    counts = "，".join(f"{names.get(k, k)}{n}项" for k, n in sorted(diff.counts().items()))
    lines = [f"《{new.meta.title}》与《{old.meta.title}》相比（{counts}）："]
    for change in diff.changes:
        if Change.SAME not in change.kinds:
            lines += describe(change, labels)
    return "\n".join(lines)
