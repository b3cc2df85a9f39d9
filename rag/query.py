"""Query analysis: what kind of question this is, and what it is about."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from index.model import Numbering, Plan, Role, Task
from index.normalize import CN_NUMERAL_CHARS, normalize, parse_cn_number
from index.units import UNIT_LIKE, find_units, unit_names
from rag.lexicon import Lexicon
from rag.limits import ANALYSED_QUESTIONS
from rag.types import Intent, Language, Query

_NUM = rf"([0-9]{{1,3}}|[{CN_NUMERAL_CHARS}]{{1,4}})"
# 第12项 / 第十二条 / 第12个任务 / 任务12 / task 12 (but not 第37个教师节, 第三届, 第四期).
_TASK_REF = re.compile(
    rf"第\s*{_NUM}\s*(?:项|条|号|个(?=任务|事项|工作))|(?:任务|事项)\s*{_NUM}(?![0-9年届期])"
    r"|\b(?:task|item)\s*#?\s*([0-9]{1,3})\b|^\s*([0-9]{1,3})\s*[.、]?\s*$",
    re.IGNORECASE,
)
# 第五部分 / 第四章 / 四、 / part 4.
_SECTION_REF = re.compile(
    rf"第\s*{_NUM}\s*(?:部分|章|篇|大项|板块|大类|大部分)|^\s*([{CN_NUMERAL_CHARS}]{{1,3}})、\s*$"
    r"|\b(?:part|section)\s*([0-9]{1,2})\b",
    re.IGNORECASE,
)
# A task by section and number, as plans numbered per section are read: 第三部分第2项 / 第3部分的第2项 / 第五部分第3条.
_SECTION_TASK_REF = re.compile(
    rf"第\s*{_NUM}\s*(?:部分|章|篇|大项|板块|大部分)\s*(?:的|中的|里的)?\s*第\s*{_NUM}\s*(?:项|条|小项|个任务)"
)
# Asking for the supporting units (配合), not the lead: 谁配合 / 配合单位有哪些 / 由哪些单位配合 / 协办单位.
_ASKS_SUPPORT = re.compile(
    r"(?:配合|协办|协助)(?:单位|部门|科室|处室)|谁(?:来)?(?:配合|协助|协办)|由谁(?:配合|协助)"
    r"|(?:哪些|哪个|什么|哪几个)(?:单位|部门|科室|处室)?(?:来)?(?:配合|协助|协办)"
)
# Asking for the people a note names (责任领导: 王副主任), not the units.
_ASKS_LEADERS = re.compile(r"(?:责任|分管|牵头|主管)领导|哪位领导|哪个领导")
# Asking what a part holds: 产业提升人才行动计划包括哪些项目 / 讲什么.
_ASKS_CONTENTS = re.compile(r"哪些|包括|包含|有什么|是什么|讲什么|讲的是|内容|几项|多少项")
# Asking who: 谁负责 / 哪个科室 / 归谁管 / 责任单位 / 找哪个部门 / 谁在抓 / who is responsible.
# The kinds of unit a question asks for (哪个科 / 归哪个处室管), and the words that ask for a unit by kind.
_UNIT_KIND = r"(?:科室|部门|单位|处室|股室|科|处|股|机构)"
_NAMES_A_UNIT = (
    rf"哪(?:个|些|一个|家)?{_UNIT_KIND}|什么(?:科室|部门|单位|机构)|(?:责任|牵头|负责|主管|承办)(?:单位|部门|科室)"
)
_WHO = re.compile(
    rf"谁|{_NAMES_A_UNIT}|归.{{0,4}}管|由哪|找哪"
    r"|\bwho\b|\bwhich\s+(?:department|office|unit|section|division)|\bresponsible\b|\bin charge\b",
    re.IGNORECASE,
)
# Asking what a unit does: 基教科负责哪些任务 / 师资科管什么 / 计财科牵头几项 / 体卫艺科的职责, and in users'
# words: 计财科今年要干啥 / 宣教科忙些什么 / 职成科手上有哪些活 / 督导室要盯哪些方面 / 安稳科还有别的吗.
_REVERSE = re.compile(
    r"(?:负责|管|牵头|承担|参与|涉及|主抓|分管|抓|牵扯).{0,3}(?:哪些|什么|几项|多少|哪几|啥)"
    r"|(?:的|有)(?:哪些|什么|啥)?(?:任务|工作|职责|事项)|职责|哪些任务|什么任务|几项"
    r"|(?:干|忙|做|盯)(?:些|的)?(?:啥|什么|哪些)|(?:有|要)(?:哪些|什么|啥)(?:活|事)|哪些(?:事|活|方面|工作)"
    r"|还有(?:别的|其他|啥)"
)
# A topic round-up: 跟教师有关的任务有哪些 / 学校安全方面有哪些任务 / 职业教育相关的事有哪些 / 减负的事今年有哪些 /
# 职业教育相关的任务都列一下 / 红色教育、党史教育的活动有哪些 / 给学生减负、给老师减负，计划里都有哪些.
_ROUNDUP = re.compile(
    r"(?:有关|相关|方面|涉及)\S{0,8}?(?:哪些|有啥|列(?:一下|出来|个))"
    r"|(?:事|事情|打算|任务|工作|安排|举措|活动|政策)(?:今年)?都?(?:有哪些|有啥)"
    r"|有哪些(?:任务|事情|事|打算|安排|举措|活动|政策)|(?:计划|文件)(?:里|中)都?(?:有哪些|有啥)"
)
_ROUNDUP_CUE = re.compile(r"有关|相关|方面|涉及")
# Where a round-up's topic names several things: 党建、干部、反腐败 / 农村、乡村教育 / 乡下学校和乡下娃.
_ENUMERATION = re.compile(r"[、，,；;/]|(?<=[\u4e00-\u9fff])(?:和|与|及|以及)(?=[\u4e00-\u9fff])")
# Words of a round-up that frame it, removed to leave its topic: "跟幼儿园有关的任务有哪些" → 幼儿园.
_ROUNDUP_FRAME = re.compile(
    r"今年|计划里|计划中|文件里|我们|咱们|直接|都|跟|和|与|及|以及|关于|有关|相关|方面|涉及|的|事情|事|任务|工作|打算"
    r"|安排|举措|活动|政策|列(?:一下|出来|个)?|这些|那些|他们|她们|它们"
)
# What a question about a unit's work says besides the unit and the asking: when, where in the plan, doing
# words, asking for a list. "计划财务科今年要做的事有哪些" / "督导室今年下来要盯哪些方面" / "基础教育科的任务清单帮我
# 列一下" leave nothing else: they ask for the unit's tasks.
_UNIT_ACTIVITY = re.compile(
    r"今年|明年|全年|一年到头|平时|目前|现在|下来|以后|主要|重点|具体|都|还|也|要|得|需要|在|了|的|些|有|"
    r"那边|这边|那块|这块|那里|手上|手里|身上|(?:这份|这个|在)?计划(?:里|中|上)?|里面|里头|"
    r"做|干|忙|搞|抓|管|负责|承担|参与|牵扯|掺和|涉及|盯|配合|落实|"
    r"帮我|给我|请|列(?:一下|出来|个)?|说说|讲讲|介绍|看看|清单|目录|"
    r"哪些|哪几|什么|啥|多少|几|项|方面|样|别的|其他|其它|[?？!！。,，、\s]"
)
_LATIN_WORD = re.compile(r"[a-z]{2,}", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TASK_WORDS = re.compile(r"任务|工作|职责|事项|事情|事")
# Words that frame a question but carry no topic; removed to leave what it is about ("职业教育有哪些措施" asks the
# measures of 职业教育: 有哪些措施 frames it).
_FRAME = re.compile(
    r"请问|我想(?:知道|问问?|了解)|想问一下|想了解|麻烦问下|你好|您好|一下|"
    r"由谁|(?:应该|该|要|得)?(?:找|问|联系)谁|谁(?:来)?(?:负责|在抓|主抓|牵头|管理?|分管|主管)?|"
    rf"归(?:哪个|哪些|哪一个|哪)?{_UNIT_KIND}?谁?(?:来)?管|"
    r"(?:应该|该|要)?找哪(?:个|些|一个)?(?:科室|部门|单位|处室|股室|科|处|股)?|"
    rf"{_NAMES_A_UNIT}|"
    r"(?:有哪些|有什么|有啥|哪些|什么|啥)(?:具体)?(?:措施|举措|做法|办法|要求|规定|安排|打算|新?政策)|"
    r"是什么|是啥|有哪些|有什么|有啥|是多少|多少|怎么样|怎么|怎样|如何|哪些|什么|几项|"
    r"负责|牵头|[吗呢呀啊吧嘛]|[?？!！。,，、:：;；\s]+"
)


def analyze(question: str, plan: Plan, lexicon: Lexicon | None = None) -> Query:
    """Classify ``question`` and extract its task or section number, units and topic; with a ``lexicon``, also
    the plan's terms for what it says in other words, and units it names by another name (教研员 → 教研室).

    One question is analysed several times on its way (reading it as a follow-up, keying its query vector,
    answering it, remembering the turn, choosing the words to highlight), as asked or normalised: the analyses of
    the last ``ANALYSED_QUESTIONS`` normalised questions are kept (a ``Query`` is frozen, and depends only on the
    normalised question, the plan and the lexicon; its ``text`` is put back as asked)."""
    query = _analyze(normalize(question), plan, lexicon)
    return query if query.text == question else replace(query, text=question)


@lru_cache(maxsize=ANALYSED_QUESTIONS)
def _analyze(text: str, plan: Plan, lexicon: Lexicon | None) -> Query:
    """``analyze`` of the normalised question ``text`` (the ``Query``'s ``text`` is it too)."""
    names = unit_names(plan)
    language = language_of(text)

    if m := _SECTION_TASK_REF.search(text):
        section, number = (parse_cn_number(g) for g in m.groups() if g)
        if section is not None and number is not None:
            return Query(text, text, Intent.TASK, task_number=number, section_number=section)
    if heading := _subsection_ref(text, plan):
        return Query(text, text, Intent.SECTION, section_number=heading[0], subsection=heading[1])
    if m := _SECTION_REF.search(text):
        number = _first_number(m)
        if number is not None:
            return Query(text, text, Intent.SECTION, section_number=number, language=language)
    if m := _TASK_REF.search(text):
        number = _first_number(m)
        if number is not None:
            return Query(text, text, Intent.TASK, task_number=number, language=language)

    expansion = lexicon.expand(text, plan_text(plan)) if lexicon else ()
    role, text_for_topic = _role_asked(text)
    found = find_units(text, names)
    named = text
    for u in found:  # an alias inside a name the plan lists (人事科 in 组织人事科) is that name, not an alias
        named = named.replace(u, " " * len(u))
    aliased = lexicon.units(named, names) if lexicon else []
    units = tuple(dict.fromkeys(found + aliased + _stem_units(named, plan, names)))
    wants_who = bool(_WHO.search(text)) or role is Role.SUPPORT
    wants_tasks = bool(_REVERSE.search(text))
    # What is left once the units and the asking-for-tasks words are gone: "基教科负责近视防控吗" → 近视防控.
    remainder = _without_units(_REVERSE.sub(" ", text), units, names, lexicon)
    rest = _topic(_TASK_WORDS.sub(" ", remainder))
    if units and rest and not _UNIT_ACTIVITY.sub("", _without_frame(rest, lexicon)):
        rest = ""  # "计财科今年要做的事有哪些": nothing asked besides the unit's work

    if units and not (rest and wants_who) and (wants_tasks or not rest):
        return Query(text, text, Intent.REVERSE, units=units, topic=rest, language=language, expansion=expansion)
    if units and rest and re.search(r"负责|牵头|主管|分管|管", text):
        wants_who = True  # "基教科负责近视防控吗?": who is responsible for the topic, checked against the plan
    roundup = _roundup_topic(text) if not units and not wants_who else ""
    if roundup and _ROUNDUP_CUE.search(text):  # "私立学校方面…": a topic, though it reads like a unit
        return Query(text, text, Intent.ROUNDUP, topic=roundup, language=language, expansion=expansion)
    if not units and wants_tasks and not wants_who:
        unknown = _unknown_unit(text)
        if unknown:
            counterparts = tuple(lexicon.counterparts(text, names)) if lexicon else ()
            return Query(
                text,
                text,
                Intent.REVERSE,
                unknown_unit=unknown,
                counterparts=counterparts,
                topic=rest,
                language=language,
                expansion=expansion,
            )
    if roundup:
        return Query(text, text, Intent.ROUNDUP, topic=roundup, language=language, expansion=expansion)
    intent = Intent.WHO if wants_who else Intent.FACT
    leaders = bool(_ASKS_LEADERS.search(text))
    return Query(
        text,
        text,
        intent,
        units=units,
        topic=_topic(text_for_topic),
        role=role,
        leaders=leaders,
        language=language,
        expansion=expansion,
    )


def _stem_units(text: str, plan: Plan, names: tuple[str, ...]) -> list[str]:
    """Units named without their 科/室/股/处 ("计财那边今年负责哪些事" → 计财科), when the plan never writes the
    stem as a word of its own (it writes 师资队伍 and 督导评估, so 师资 and 督导 stay topics)."""
    bodies = plan_bodies(plan)
    out = []
    for name in names:
        stem = name[:-1]
        if name[-1] in "科室股处" and len(stem) >= 2 and stem in text and stem not in bodies:
            out.append(name)
    return out


@lru_cache(maxsize=8)
def plan_bodies(plan: Plan) -> str:
    """The plan's task bodies without their 责任单位 notes, normalised: the words the plan uses as words."""
    return normalize(" ".join(t.body for t in plan.tasks))


def _without_units(text: str, units: tuple[str, ...], names: tuple[str, ...], lexicon: Lexicon | None) -> str:
    """``text`` with the units it names blanked out, however it names them: as the plan writes them, by a name
    the rule recognises (计划财务科 for 计财科) or by a lexicon alias (教研员 for 教研室)."""
    for u in units:
        text = text.replace(u, " ")
    for m in UNIT_LIKE.finditer(text):
        if find_units(m.group(), names):
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    for u in units:
        if u[-1] in "科室股处" and len(u) >= 3:
            text = text.replace(u[:-1], " ")
    for start, end in lexicon.unit_spans(text, names) if lexicon else []:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _without_frame(text: str, lexicon: Lexicon | None) -> str:
    """``text`` without the lexicon's framing words (局里, 咱们, 这块)."""
    for word in sorted(lexicon.frame if lexicon else (), key=len, reverse=True):
        text = text.replace(word, "")
    return text


def _role_asked(text: str) -> tuple[Role | None, str]:
    """SUPPORT when a who-question asks for the supporting units, with the words that ask it taken out of the
    text (they frame the question: "“双减”工作谁配合" is about 双减). Asking who leads needs nothing apart: every
    who-answer marks the lead units (牵头)."""
    if _ASKS_SUPPORT.search(text):
        return Role.SUPPORT, re.sub(r"配合|协办|协助", " ", _ASKS_SUPPORT.sub(" ", text))
    return None, text


def _subsection_ref(text: str, plan: Plan) -> tuple[int, int] | None:
    """(section, sub-section) when the question asks what a sub-section heading holds, naming its title:
    "产业提升人才行动计划包括哪些项目" → the tasks under "（一）产业提升人才行动计划。…"."""
    if not _ASKS_CONTENTS.search(text):
        return None
    for section in plan.sections:
        for sub in section.subsections:
            if len(sub.title) >= 4 and normalize(sub.title) in text:
                return section.number, sub.number
    return None


def _roundup_topic(text: str) -> str:
    """The topic of a round-up ("跟幼儿园有关的任务有哪些" → 幼儿园), or "" when the question is not one; a topic
    naming several things keeps them apart with 、 ("局里抓党建、管干部、反腐败这些…" → 党建、管干部、反腐败)."""
    if not _ROUNDUP.search(text):
        return ""
    parts = []
    for piece in _ENUMERATION.split(_ROUNDUP.sub(" ", text)):
        part = re.sub(r"\s+", "", _ROUNDUP_FRAME.sub(" ", _topic(piece)))
        if part:
            parts.append(part)
    return "、".join(parts)


@lru_cache(maxsize=8)
def plan_text(plan: Plan) -> str:
    """The plan's tasks, normalised and joined: what "the plan already says this word" is checked against."""
    return normalize(" ".join(t.text for t in plan.tasks))


def language_of(text: str) -> Language:
    """English when the question has no Chinese character; mixed when it has English words beside Chinese."""
    has_cjk = bool(_CJK.search(text))
    if not has_cjk:
        return Language.EN if _LATIN_WORD.search(text) else Language.ZH
    return Language.MIXED if _LATIN_WORD.search(text) else Language.ZH


def _topic(text: str) -> str:
    topic = _FRAME.sub(" ", text)
    # Stray particles left at a word's edge ("的", "归"); not 管, which ends words (托管, 监管).
    topic = re.sub(r"(?:^|\s)[的是在归了]+|[的是在归了]+(?:\s|$)", " ", topic)
    topic = re.sub(r"(?:^|\s)管(?=\s|$)", " ", topic)  # 管 left alone by the asking ("这事谁来 管")
    return re.sub(r"\s+", " ", topic).strip()


def _unknown_unit(text: str) -> str | None:
    cleaned = re.sub(r"^(?:请问|我想知道|想问一下|你好|您好)", "", text)
    m = UNIT_LIKE.match(cleaned.strip())
    return m.group(1) if m else None


def task_refs(text: str) -> list[tuple[int, int]]:
    """Every task ``text`` names by number (第12项, 第十二条, 第12个任务, 任务12, task 12), as (number, where), in
    reading order: the one reading of task numbers, for questions that name several (year-over-year ones)."""
    return [(n, m.start()) for m in _TASK_REF.finditer(text) if (n := _first_number(m)) is not None]


def _first_number(m: re.Match[str]) -> int | None:
    for group in m.groups():
        if group:
            return parse_cn_number(group)
    return None


def asked_tasks(plan: Plan, query: Query) -> tuple[Task, ...]:
    """The tasks a question names by number: 第12项 (one task, or one per section that has a task 12 in a plan
    numbered per section); 第三部分第2项 (section 3's task 2, or its second task in a continuously numbered plan)."""
    number = query.task_number or 0
    if query.section_number is None:
        return plan.numbered(number) if number > 0 else ()
    if plan.numbering is Numbering.PER_SECTION:
        return plan.numbered(number, query.section_number)
    section = plan.section(query.section_number)
    return (section.tasks[number - 1],) if section and 0 < number <= len(section.tasks) else ()


def task_key(plan: Plan, query: Query) -> int | None:
    """The key of the one task a question names by number (its number, in a continuously numbered plan, even
    when the plan lacks it); None when it names several or, in a plan numbered per section, none."""
    if plan.numbering is Numbering.CONTINUOUS and query.section_number is None:
        return query.task_number
    tasks = asked_tasks(plan, query)
    return tasks[0].key if len(tasks) == 1 else None
