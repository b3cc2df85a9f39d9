"""What a teacher reads in WeChat: the answer laid out for a chat, cut to WeChat's 2048-byte limit."""

from __future__ import annotations

import re

from index.model import Plan
from rag.answer import units_phrase
from rag.types import Answer, Intent, Suggestion

MAX_BYTES = 2048  # WeChat's limit for a text message's Content, in UTF-8 bytes
MORE = "更多"
MORE_HINT = "\n……回复「更多」查看全文"
_SENTENCE_ENDS = "。！？；!?;\n"

WELCOME = (
    "欢迎！这里可以查询《{title}》：哪项工作由哪个科室牵头、某项任务的原文、某个科室负责哪些任务。\n"
    "可以这样问：\n1. 谁负责近视防控？\n2. 第12项任务是什么？\n3. 基教科负责哪些任务？\n"
    "回答都注明出处（第几项任务）。"
)
WELCOME_LIBRARY = (
    "欢迎！这里可以查询{count}份工作要点：哪项工作由哪个科室牵头、某项任务的原文、某个科室负责哪些任务。\n"
    "默认查询《{title}》；问题里写明年份或地区（如“青山2022年…”）即按那份计划回答，"
    "回复“切换计划”可查看并选择计划。\n可以这样问：\n1. 谁负责近视防控？\n2. 第12项任务是什么？\n"
    "3. 近视防控今年和去年比有什么变化？\n回答都注明出处（哪份计划、第几项任务）。"
)
PLAN_LIST = "可选的计划：\n{plans}\n回复“切换 序号”（如“切换 2”）选择；也可以在问题里写明年份或地区。"
SWITCHED = "已切换到《{title}》，请提问。"
ONLY_ONE_PLAN = "目前只有一份计划：《{title}》，请直接提问。"
ONLY_TEXT = "抱歉，目前只能理解文字和语音消息，请用文字提问，例如“谁负责近视防控？”。"
NO_VOICE_TEXT = "抱歉，没有识别出这段语音，请再说一遍或改用文字提问。"
PENDING = "正在查询，请稍后发送任意文字获取答案。"
STILL_PENDING = "仍在查询，请稍后再发送任意文字获取答案。"
NO_MORE = "没有更多内容了，请直接提问。"
RATE_LIMITED = "提问太频繁了，请{seconds}秒后再试。"
FAILED = "抱歉，查询出错了，请稍后再试。"


def compose(answer: Answer, plan: Plan) -> str:
    """The lead unit and the task first, then the excerpt; lists (a unit's tasks, a section) as they are."""
    if not answer.found and answer.suggestions:
        return _not_stated(answer)
    if not answer.found or not answer.citations:
        return answer.text
    top = answer.citations[0]
    task = plan.task(top.task)
    if answer.intent is Intent.TASK and task is not None:
        return f"{answer.text}\n原文：{task.body}"
    if answer.intent is Intent.FACT and task is not None:
        head = f"{task.label}“{task.title}”，责任单位：{units_phrase(task)}。"
        return f"{head}\n原文：{top.excerpt}" + _see_also(answer)
    return answer.text


def _not_stated(answer: Answer) -> str:
    """The plan covers the topic but does not state what was asked: say so, then the close tasks as a short list
    a teacher can ask about next ("第8项任务是什么")."""
    head = answer.text.split("相关的可能是：")[0].rstrip()
    lines = [
        f"{i}. {_label(s)} {s.title}（{s.lead_unit or '未列责任单位'}牵头）"
        for i, s in enumerate(answer.suggestions, 1)
    ]
    return "\n".join([head, "相关的可能是：", *lines, f"可回复“{_label(answer.suggestions[0])}任务是什么”查看原文。"])


def _label(suggestion: Suggestion) -> str:
    """第12项, or 第三部分第2项 in a plan numbered per section (its key is not its number there)."""
    return suggestion.label or f"第{suggestion.task}项"


def _see_also(answer: Answer) -> str:
    others = answer.citations[1:]
    if not others:
        return ""
    return "\n另见：" + "；".join(f"{c.label}（{c.lead_unit or '未列责任单位'}牵头）" for c in others)


def split(text: str, limit: int = MAX_BYTES) -> tuple[str, str]:
    """(what fits in one message, the rest). When the text is too long the first part ends at a sentence
    boundary and carries MORE_HINT, and both parts together hold the whole text."""
    if len(text.encode("utf-8")) <= limit:
        return text, ""
    room = limit - len(MORE_HINT.encode("utf-8"))
    head = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")  # whole characters only
    cut = max(head.rfind(c) for c in _SENTENCE_ENDS) + 1
    if cut < len(head) // 2:  # no sentence end in the second half: cut at the character limit instead
        cut = len(head)
    return text[:cut].rstrip("\n") + MORE_HINT, text[cut:].lstrip("\n")


_SWITCH = re.compile(r"^(?:切换|选择|更换|换)(?:计划|到|成|为)?\s*(?:计划)?\s*(.*?)[。.!！?？\s]*$")
_LIST = {"计划列表", "有哪些计划", "查看计划", "所有计划"}


def switch_request(text: str) -> str | None:
    """ "切换计划" → "" (list the plans); "切换 2" → "2"; "切换到青山2022年" → "青山2022年"; None: not a command."""
    text = text.strip()
    if text.strip("。.!！?？ ") in _LIST:
        return ""
    m = _SWITCH.match(text)
    return m.group(1).strip() if m else None


def is_more(text: str) -> bool:
    return text.strip().strip("。.!！?？ ").lower() in {MORE, "more", "继续", "全文"}
