"""Topic round-ups: "跟教师有关的任务有哪些?" lists every task on the topic, complete, best first.

The topic's words are read through the lexicon (老师 → 教师, 私立 → 民办, 乡下 → 乡村/农村). Words that most
tasks say (学校, 教育) are too general to select by and are set aside, unless nothing else is left. A topic that
names several things ("党建、干部、反腐败这些", "农村、乡村教育") is read part by part, and the round-up lists the
tasks of every part. Within a part, a task is on the topic when its text or its section's title says every
remaining word; when no task says them all ("招生入学"), any of the words that few tasks say.

A word many tasks say in passing (教师 in ten tasks of thirty: "向教师队伍建设倾斜") selects only the tasks about it:
those whose title says it, or that say it at least a quarter as often as the task that says it most. A word few
tasks say (劳动教育, 乡村) selects every task that says it. Tasks whose title says the topic come first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from index.keyword import WordTokenizer
from index.model import Plan, Task
from index.normalize import normalize
from rag.gate import Term, content_terms
from rag.lexicon import Lexicon
from rag.limits import ROUNDUP_BROAD_SHARE, ROUNDUP_CENTRAL_SHARE, ROUNDUP_GENERIC_SHARE
from rag.types import Query


@dataclass(frozen=True)
class RoundupTask:
    task: Task
    excerpt: str  # the first sentence that says the topic, or the title


def roundup_tasks(plan: Plan, query: Query, tokenizer: WordTokenizer, lexicon: Lexicon) -> list[RoundupTask]:
    """The tasks on ``query.topic``, best first (title says it, then most mentions); [] when none."""
    tasks = plan.tasks
    if not tasks:
        return []
    texts = {t.key: normalize(f"{plan.section_of(t).title} {t.text}") for t in tasks}
    chosen: dict[int, list[Term]] = {}
    for part in _parts(query):
        terms = content_terms(replace(query, normalized=part, topic=part), tokenizer, lexicon, plan)
        for key, said in _part_tasks(tasks, texts, terms).items():
            chosen.setdefault(key, []).extend(t for t in said if t not in chosen.get(key, []))
    on_topic = [t for t in tasks if t.key in chosen]
    ranked = sorted(on_topic, key=lambda t: (-_in_title(t, chosen[t.key]), -_mentions(texts[t.key], chosen[t.key])))
    return [RoundupTask(t, _excerpt(t, chosen[t.key])) for t in ranked]


def _parts(query: Query) -> list[str]:
    """The things the topic names: "局里抓党建 管干部 反腐败" → three parts; a topic of one thing is one part."""
    topic = query.topic or query.normalized
    return [p for p in topic.split("、") if p.strip()] or [topic]


def _part_tasks(tasks: tuple[Task, ...], texts: dict[int, str], terms: tuple[Term, ...]) -> dict[int, list[Term]]:
    """The tasks on one part of the topic, each with the words of it that the task says."""
    share = {term.word: sum(term.found_in(text) for text in texts.values()) / len(tasks) for term in terms}
    present = [term for term in terms if share[term.word] > 0]
    specific = [term for term in present if share[term.word] <= ROUNDUP_GENERIC_SHARE]
    if not specific and present:
        specific = [min(present, key=lambda term: share[term.word])]
    selected = {term.word: _about(tasks, texts, term, share[term.word]) for term in specific}
    keys = set.intersection(*selected.values()) if selected else set()
    if not keys:  # no task says them all ("招生入学"): any of the words few tasks say, else the rarest word
        rare = [term for term in specific if share[term.word] <= ROUNDUP_BROAD_SHARE]
        keys = set().union(*(selected[term.word] for term in rare)) if rare else set()
    if not keys and specific:
        keys = selected[min(specific, key=lambda term: share[term.word]).word]
    return {k: [term for term in specific if k in selected[term.word]] for k in keys}


def _about(tasks: tuple[Task, ...], texts: dict[int, str], term: Term, share: float) -> set[int]:
    """The tasks about ``term``: every task that says it (in its text or its section's title), or, for a word many
    tasks say, the tasks whose own title says it or that say it at least ``ROUNDUP_CENTRAL_SHARE`` as often as the
    task that says it most."""
    saying = {t.key for t in tasks if term.found_in(texts[t.key])}
    if share <= ROUNDUP_BROAD_SHARE:
        return saying
    counts = {t.key: _mentions(normalize(t.text), [term]) for t in tasks}  # the task's own words, not its section's
    most = max(counts.values())
    return {
        t.key
        for t in tasks
        if t.key in saying and (_in_title(t, [term]) or counts[t.key] >= ROUNDUP_CENTRAL_SHARE * most)
    }


def _in_title(task: Task, terms: list[Term]) -> bool:
    title = normalize(task.title)
    return any(term.found_in(title) for term in terms)


def _mentions(text: str, terms: list[Term]) -> int:
    return sum(text.count(a) for term in terms for a in dict.fromkeys(term.alternatives))


def _excerpt(task: Task, terms: list[Term]) -> str:
    for sentence in task.sentences:
        if any(term.found_in(normalize(sentence)) for term in terms):
            return sentence
    return task.title
