"""Topic round-ups: "跟教师有关的任务有哪些?" lists every task on the topic, complete, best first.

The topic's words are read through the lexicon (老师 → 教师, 私立 → 民办, 乡下 → 乡村/农村). Words that most
tasks say (学生, 学校, 教育) are too general to select by and are set aside, unless nothing else is left. A task is
on the topic when its text or its section's title says every remaining word; tasks whose title says it come first.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.keyword import WordTokenizer
from index.model import Plan, Task
from index.normalize import normalize
from rag.gate import Term, content_terms
from rag.lexicon import Lexicon
from rag.limits import ROUNDUP_GENERIC_SHARE
from rag.types import Query


@dataclass(frozen=True)
class RoundupTask:
    task: Task
    excerpt: str  # the first sentence that says the topic, or the title


def roundup_tasks(plan: Plan, query: Query, tokenizer: WordTokenizer, lexicon: Lexicon) -> list[RoundupTask]:
    """The tasks on ``query.topic``, best first (title says it, then most mentions); [] when none."""
    terms = content_terms(query, tokenizer, lexicon)
    tasks = plan.tasks
    if not terms or not tasks:
        return []
    texts = {t.number: normalize(f"{plan.section_of(t).title} {t.text}") for t in tasks}
    share = {term.word: sum(term.found_in(text) for text in texts.values()) / len(tasks) for term in terms}
    present = [term for term in terms if share[term.word] > 0]
    specific = [term for term in present if share[term.word] <= ROUNDUP_GENERIC_SHARE]
    if not specific and present:
        specific = [min(present, key=lambda term: share[term.word])]
    if not specific:
        return []
    on_topic = [t for t in tasks if all(term.found_in(texts[t.number]) for term in specific)]
    ranked = sorted(on_topic, key=lambda t: (-_in_title(t, specific), -_mentions(texts[t.number], specific)))
    return [RoundupTask(t, _excerpt(t, specific)) for t in ranked]


def _in_title(task: Task, terms: list[Term]) -> bool:
    title = normalize(task.title)
    return any(term.found_in(title) for term in terms)


def _mentions(text: str, terms: list[Term]) -> int:
    return sum(text.count(a) for term in terms for a in term.alternatives)


def _excerpt(task: Task, terms: list[Term]) -> str:
    for sentence in task.sentences:
        if any(term.found_in(normalize(sentence)) for term in terms):
            return sentence
    return task.title
