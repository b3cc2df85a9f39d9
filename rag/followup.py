"""The follow-up grammar: how a question reads after the turn before, from its wording alone (no LLM).

- "那它的牵头单位是谁?"  → the lead unit of the task the previous answer was about;
- "第二个呢?"            → the second citation of the previous list, asked the way the list was asked;
- "还有哪些?"            → further tasks for the previous question, leaving out those already shown;
- "这项任务的原文"       → the whole text of that task, as written;
- "课后服务呢?"          → the previous question with its topic replaced ("谁负责近视防控?" → "谁负责课后服务?").

Anything else is a standalone question. "第二项" keeps meaning task 2 (the plan numbers its tasks that way);
"第二个" means the second item of the previous answer.
"""

from __future__ import annotations

import re

from index.model import Plan
from index.normalize import CN_NUMERAL_CHARS, normalize, parse_cn_number
from rag.query import analyze, task_key
from rag.types import FollowUp, Intent, Turn

# Words that point back at the previous answer.
_REFERENCE = re.compile(
    r"(?:这|该|此|那)(?:一)?(?:项|个|条)任务|它|其(?![他它中余实])|这项|该项|此项|那项|这一项|这个|那个|这条|该条"
    r"|上述|上面|刚才|前面|这些|该任务"
)
# Asking for the units of a task already in view (query analysis has its own, wider, who-pattern).
_ASKS_UNITS = re.compile(r"谁|牵头|责任单位|负责单位|主责|哪(?:个|些|一个)?(?:科室|部门|单位|处室)|配合单位|who", re.I)
_ORIGINAL = re.compile(r"原文|全文|完整(?:内容|文本|表述|的)?|详细内容|具体内容|详细(?:说说|讲讲|看看|介绍)|展开")
# 第二个 / 第2个 / 最后一个, but not 第二个任务 (task 2, as query analysis reads it).
_ORDINAL = re.compile(rf"第\s*([0-9]{{1,2}}|[{CN_NUMERAL_CHARS}]{{1,3}})\s*个(?!任务|事项|工作)|(最后一个|最后那个)")
_MORE = re.compile(
    r"^(?:那|那么|请问)?(?:还有|还有没有|还有别的|其他|其它|别的|另外|更多)(?:的)?"
    r"(?:哪些|什么|吗|呢|没有|任务|工作|内容|相关|事项|单位|的|吧)*$"
)
_ELLIPSIS = re.compile(r"^(?:那|那么|还有|那请问)?(.{1,20}?)(?:的)?呢$")
_QUESTION_WORDS = re.compile(r"谁|哪|什么|多少|几|怎么|如何|是否|吗")
_TRAILING = re.compile(r"[?？!！。.,，~～\s]+$")


def resolve(question: str, previous: Turn | None, plan: Plan) -> tuple[FollowUp, str, int | None]:
    """How to read ``question`` after ``previous``: (kind, standalone question, task referred to)."""
    text = _TRAILING.sub("", normalize(question))
    query = analyze(text, plan)
    key = task_key(plan, query) if query.intent is Intent.TASK else None
    if _ORIGINAL.search(text) and key is not None:
        return FollowUp.ORIGINAL, "", key  # "第8项的原文" needs no previous turn
    if _ASKS_UNITS.search(text) and key is not None:
        return FollowUp.LEAD, "", key  # nor does "第8项的牵头单位是谁"
    if previous is None:
        return FollowUp.NONE, question, None

    ordinal = _ORDINAL.search(text)
    if ordinal:
        position = len(previous.listing) if ordinal.group(2) else parse_cn_number(ordinal.group(1)) or 0
        task = previous.listing[position - 1] if 1 <= position <= len(previous.listing) else -position
        if _ORIGINAL.search(text):
            return FollowUp.ORIGINAL, "", task
        if _ASKS_UNITS.search(text) or previous.asks is Intent.WHO:
            return FollowUp.LEAD, "", task
        return FollowUp.ITEM, "", task

    refers = bool(_REFERENCE.search(text)) or len(text) <= 8
    if previous.focus is not None and query.intent is not Intent.TASK and refers:
        if _ORIGINAL.search(text):
            return FollowUp.ORIGINAL, "", previous.focus
        if _ASKS_UNITS.search(text) and not _has_topic(text, plan):
            return FollowUp.LEAD, "", previous.focus
    if _MORE.match(text) and previous.base:
        return FollowUp.MORE, previous.base, None

    ellipsis = _ELLIPSIS.match(text)
    if ellipsis and not _QUESTION_WORDS.search(ellipsis.group(1)):
        return _topic_follow_up(ellipsis.group(1), previous, plan)
    return FollowUp.NONE, question, None


def _has_topic(text: str, plan: Plan) -> bool:
    """Whether the question names something besides the previous answer ("那它的牵头单位是谁" names nothing)."""
    stripped = _REFERENCE.sub(" ", text)
    stripped = re.sub(r"^(?:那|那么)|的|单位|牵头|配合|责任|负责|主责|是|有|由|来|都|分别", " ", stripped)
    return bool(analyze(stripped, plan).topic.strip())


def _topic_follow_up(subject: str, previous: Turn, plan: Plan) -> tuple[FollowUp, str, int | None]:
    query = analyze(subject, plan)
    if query.intent is Intent.TASK and query.task_number is not None:
        key = task_key(plan, query)
        if previous.asks is Intent.WHO and key is not None:
            return FollowUp.LEAD, "", key
        where = f"第{query.section_number}部分" if query.section_number is not None else ""
        return FollowUp.TOPIC, f"{where}第{query.task_number}项任务是什么", None
    if query.intent is Intent.SECTION and query.section_number is not None:
        return FollowUp.TOPIC, f"第{query.section_number}部分讲什么", None
    if query.units and previous.asks is Intent.REVERSE:
        return FollowUp.TOPIC, f"{subject}负责哪些任务", None
    if previous.topic and previous.topic in previous.resolved:
        return FollowUp.TOPIC, previous.resolved.replace(previous.topic, subject, 1), None
    if previous.asks is Intent.WHO:
        return FollowUp.TOPIC, f"谁负责{subject}", None
    return FollowUp.NONE, subject, None
