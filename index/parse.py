"""Parse a work plan (工作要点) into the typed document model.

The plans of this family look like this (one paragraph per line):

    摘要                                                        ← noise: a repeated abstract
    2021年是中国共产党成立100周年,…                              ← preamble
    一、深入学习宣传贯彻习近平新时代中国特色社会主义思想…              ← section
    1.切实强化思想理论武装。认真学习领会…。(责任单位:宣教科、组织人事科,各县区教育行政部门、市直学校)
    中国教育信息订阅号二维码                                      ← noise: a footer

Nothing here knows this particular plan: numbers, gaps and units all come from the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from index.errors import PlanParseError
from index.model import Plan, Section, Task
from index.normalize import CN_NUMERAL_CHARS, parse_cn_number, split_sentences

PARSER_VERSION = "2"

# A section heading: "四、着力构建优质均衡的教育公共服务体系" (a Chinese numeral, then 、 or a dot).
_SECTION = re.compile(rf"^([{CN_NUMERAL_CHARS}]{{1,4}})\s*[、.．]\s*(\S.*)$")
# A task: "12.全力推动城乡义务教育一体化发展。…" (digits, then . ． or 、, and no digit after it: not "1.5亿").
_TASK = re.compile(r"^([0-9０-９]{1,3})\s*[.．、]\s*(?![0-9０-９])(\S.*)$")
# The closing note: "(责任单位:基教科、计财科,各县区教育行政部门)" in half- or full-width brackets and colon;
# unit names may hold brackets of their own: "(责任单位:德育科,各县(市、区)教育局)".
_UNITS_OPEN = re.compile(r"[(（]\s*((?:责任|牵头|承办)(?:单位|部门|处室))\s*[:：]\s*")
_UNITS_CLOSE = re.compile(r"[)）]\s*[。.]?\s*$")
# Units are listed with 、 inside a group; a comma separates the bureau's departments from local units.
_GROUP_SEP = ",，;；"
_UNIT_SEP = "、/"
# Lines that are page furniture, not plan text: QR codes, subscription footers, editor credits.
_NOISE = re.compile(r"二维码|订阅号|服务号|公众号|扫一扫|长按识别|关注我们|责任编辑|打印本页|关闭窗口|分享到")
# An abstract heading on a line of its own, and abstracts cut short with an ellipsis.
_ABSTRACT = re.compile(r"^(摘\s*要|内容摘要|导读)[:：]?$")
_TRUNCATED = re.compile(r"(\.\.\.|…)$")
# A title line before everything else: "赣州市教育局2022年工作要点" (short, no sentence end, names the genre).
_TITLE = re.compile(r"^[^。！？!?:：]{4,40}(要点|计划|方案|安排|规划|意见|任务分解)$")


@dataclass
class _TaskDraft:
    number: int
    section: int
    body: str
    note: str = ""
    units: list[str] = field(default_factory=list)
    bureau_units: int = 0


def parse_plan(text: str, title: str = "") -> Plan:
    """Parse the plan's text. Raises PlanParseError when no numbered task can be found."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]

    preamble: list[str] = []
    dropped: list[str] = []
    sections: list[tuple[int, str, str]] = []  # number, numeral, title
    drafts: list[_TaskDraft] = []
    current_section = 0

    for line in lines:
        if _NOISE.search(line) or _ABSTRACT.match(line):
            dropped.append(line)
            continue
        if m := _SECTION.match(line):
            number = parse_cn_number(m.group(1))
            if number is not None and number > 0:
                current_section = number
                sections.append((number, m.group(1), m.group(2).strip()))
                continue
        if m := _TASK.match(line):
            number = int(unicodedata.normalize("NFKC", m.group(1)))
            if number > 0:
                draft = _TaskDraft(number=number, section=current_section, body=m.group(2).strip())
                _take_units(draft)
                drafts.append(draft)
                continue
        if drafts and not drafts[-1].note and drafts[-1].section == current_section:
            # A paragraph that continues a task, or its units note on a line of its own.
            drafts[-1].body += line
            _take_units(drafts[-1])
        elif not drafts and not sections:
            preamble.append(line)
        else:
            dropped.append(line)

    if not drafts:
        raise PlanParseError(
            "找不到编号任务（如“1.切实强化思想理论武装。…”）。No numbered tasks found: "
            "is this a work plan with lines like '1.Title。Body…(责任单位:…)'?"
        )
    numbers = [d.number for d in drafts]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise PlanParseError(
            f"任务编号重复：{duplicates}。Task numbers repeat ({duplicates}); PlanQA cites tasks by number, "
            "so each number must be unique in the plan."
        )

    if preamble and _TITLE.match(preamble[0]):
        title = title or preamble[0]
        preamble = preamble[1:]
    kept_preamble, dropped_preamble = _clean_preamble(preamble)
    dropped = dropped_preamble + dropped

    section_objs = []
    if any(d.section == 0 for d in drafts):
        sections.insert(0, (0, "", ""))
    for number, numeral, section_title in sections:
        tasks = tuple(_build_task(d) for d in drafts if d.section == number)
        section_objs.append(Section(number=number, numeral=numeral, title=section_title, tasks=tasks))

    section_numbers = {s[0] for s in sections if s[0] > 0}
    return Plan(
        title=title,
        preamble="\n".join(kept_preamble),
        sections=tuple(section_objs),
        missing_tasks=_gaps(set(numbers)),
        missing_sections=_gaps(section_numbers),
        dropped=tuple(dropped),
    )


def _take_units(draft: _TaskDraft) -> None:
    """Move a closing 责任单位 note out of the body into the unit list."""
    opens = list(_UNITS_OPEN.finditer(draft.body))
    close = _UNITS_CLOSE.search(draft.body)
    if not opens or not close or close.start() < opens[-1].end():
        return
    start = opens[-1]
    listed = draft.body[start.end() : close.start()].strip()
    draft.note = draft.body[start.start() + 1 : close.start()].strip()  # as written, inside the brackets
    draft.body = draft.body[: start.start()].rstrip()
    groups = [g for g in _split_top_level(listed, _GROUP_SEP) if g.strip()]
    units_by_group = [[u.strip() for u in _split_top_level(g, _UNIT_SEP) if u.strip()] for g in groups]
    draft.units = [u for group in units_by_group for u in group]
    draft.bureau_units = len(units_by_group[0]) if units_by_group else 0


def _split_top_level(text: str, separators: str) -> list[str]:
    """Split at ``separators`` outside brackets: "各县(市、区)教育局、市直学校" → two units, not three."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "(（":
            depth += 1
        elif char in ")）":
            depth = max(0, depth - 1)
        if char in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _build_task(draft: _TaskDraft) -> Task:
    sentences = tuple(split_sentences(draft.body))
    first = sentences[0] if sentences else draft.body
    return Task(
        number=draft.number,
        section=draft.section,
        title=first.rstrip("。！？!?").strip(),
        body=draft.body,
        sentences=sentences,
        units=tuple(draft.units),
        bureau_units=draft.bureau_units,
        units_note=draft.note,
    )


def _clean_preamble(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Keep the opening paragraphs once: drop ones cut short with “...” and ones repeated inside a longer one."""
    kept, dropped = [], []
    for i, p in enumerate(paragraphs):
        others = paragraphs[:i] + paragraphs[i + 1 :]
        repeated = any(p in o and (len(o) > len(p) or j < i) for j, o in enumerate(others))
        if _TRUNCATED.search(p) or repeated:
            dropped.append(p)
        else:
            kept.append(p)
    return kept, dropped


def _gaps(numbers: set[int]) -> tuple[int, ...]:
    if not numbers:
        return ()
    return tuple(n for n in range(1, max(numbers)) if n not in numbers)


def render_plan(plan: Plan) -> str:
    """The plan back as text of the family ``parse_plan`` reads: title, preamble, ``一、`` sections and
    ``1.`` tasks with their ``(责任单位:…)`` notes verbatim, one paragraph per line. Parsing the result gives
    the same sections, tasks, bodies and units (the title only when it reads as one, e.g. "…工作要点")."""
    lines = [plan.title] if _TITLE.match(plan.title) else []
    lines += [p for p in plan.preamble.split("\n") if p]
    for section in plan.sections:
        if section.numeral:
            lines.append(f"{section.numeral}、{section.title}")
        lines += [task.text for task in section.tasks]
    return "\n".join(lines) + "\n"
