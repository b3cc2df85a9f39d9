"""Responsibility notes: the bracketed text that closes a task and says who does it, read into roles.

A note is ``（…）`` or ``(…)`` (either bracket width, even mixed) at the end of a task's paragraph or on the line
after it, made of segments that each start with a key and ``：`` or ``:``. The keys and what they give:

    (责任单位:宣教科、组织人事科,各县区教育行政部门、市直学校)        plain list: 宣教科 lead, 组织人事科 support,
                                                                  the units after the first comma local
    （牵头单位：基础教育科；配合单位：校外教育培训监管科、督导室）       every 牵头 unit lead, every 配合 unit support
    （牵头单位：市工商联、市工信局，配合单位：市委统战部）             several leads; segments split by ， too
    （责任领导：陈副主任；责任科室：财务科、人事科；配合单位：市医疗保障局）  责任领导 are people: ``leaders``
    (承办单位:教育股、教研室,梅溪一中、梅溪二中)                      a plain list, like 责任单位

A separator (``；`` ``;`` ``，`` ``,``) just before the next key belongs to neither segment. Within a segment the
first comma or semicolon outside brackets splits a head from a tail: the head's units are split on ``、`` and take
the segment's roles, every unit of the tail is local. Units never split inside brackets (各县（市、区）教育局 is
one unit), a collective unit (a name starting with 各) is always local, and an enumeration of administrative
levels (各区、县级市, 各区、县级市人民政府) is one unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.model import Role, UnitRole

# A key and its colon: 责任单位： 牵头单位: 配合单位： 责任处室: 责任科室： 承办单位: 责任领导： (also 责任部门,
# 牵头部门, 协办单位, 分管领导 …, which other plans of the family use).
NOTE_KEY = re.compile(
    r"(?:(?P<kind>责任|牵头|配合|承办|主办|协办|参与|主责)(?:单位|部门|处室|科室|股室)|(?P<people>责任|分管|牵头)领导)"
    r"\s*[:：]"
)
_LEAD_KINDS = frozenset({"牵头", "主办", "主责"})  # 牵头单位：A、B → both lead
_SUPPORT_KINDS = frozenset({"配合", "协办", "参与"})  # 配合单位：A、B → both support
OPEN, CLOSE = "(（", ")）"
_HEAD_TAIL = "，,；;"  # the first of these outside brackets ends a segment's head
_UNIT_SEP = "、/"
# An administrative level alone ("各区", "县级市"): such a piece and the next one name one collective unit,
# "各区、县级市人民政府" (but "市直学校" after "各区" is a unit of its own: 市直 / 市属 / 县直 are not levels).
_LEVEL_ONLY = re.compile(r"^各?(?:县级市|县区|县市区|区县|乡镇|街道|县|区|市|乡|镇|旗)$")
_STARTS_WITH_LEVEL = re.compile(r"^(?:县级市|县|区|市|乡|镇|街道|旗)(?![直属])")


@dataclass(frozen=True)
class NoteRoles:
    assigned: tuple[UnitRole, ...]
    leaders: tuple[str, ...]


def note_span(text: str) -> int | None:
    """Where the note closing ``text`` starts, or None: the last bracket group, closing the text (a 。 after it
    allowed), whose content begins with a key. "（此件公开发布）" has no key: it is no note."""
    end = len(text.rstrip())
    if end and text[end - 1] in "。.":
        end = len(text[: end - 1].rstrip())
    if not end or text[end - 1] not in CLOSE:
        return None
    depth = 0
    for i in range(end - 1, -1, -1):
        if text[i] in CLOSE:
            depth += 1
        elif text[i] in OPEN:
            depth -= 1
            if depth == 0:
                return i if NOTE_KEY.match(text[i + 1 : end].lstrip()) else None
    return None


def is_note_line(line: str) -> bool:
    """A line that is a note and nothing else: "（责任领导：王副主任；责任科室：体制改革科）"."""
    return note_span(line) == 0


def read_note(note: str) -> NoteRoles:
    """The roles a note gives (``note`` as written, brackets included)."""
    inner = note.strip().rstrip("。.").rstrip()[1:-1]
    keys = [m for m in NOTE_KEY.finditer(inner) if _depth_at(inner, m.start()) == 0]
    assigned: dict[str, Role] = {}
    leaders: list[str] = []
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(inner)
        value = inner[m.end() : end].strip().rstrip(_HEAD_TAIL).strip()
        if m.group("people"):
            leaders += [p for p in split_units(value) if p not in leaders]
            continue
        head, tail = _head_tail(value)
        kind = m.group("kind")
        for j, unit in enumerate(split_units(head)):
            if unit.startswith("各"):
                role = Role.LOCAL  # a collective unit: each county, each school … carries it out locally
            elif kind in _LEAD_KINDS:
                role = Role.LEAD
            elif kind in _SUPPORT_KINDS:
                role = Role.SUPPORT
            else:
                role = Role.LEAD if j == 0 else Role.SUPPORT
            assigned.setdefault(unit, role)
        for unit in split_units(tail, _HEAD_TAIL + _UNIT_SEP):
            assigned.setdefault(unit, Role.LOCAL)
    order = (Role.LEAD, Role.SUPPORT, Role.LOCAL)
    ranked = sorted(assigned.items(), key=lambda kv: order.index(kv[1]))  # stable: note order within a role
    return NoteRoles(tuple(UnitRole(u, r) for u, r in ranked), tuple(leaders))


def split_units(text: str, separators: str = _UNIT_SEP) -> list[str]:
    """Split at ``separators`` outside brackets, keeping enumerations of levels whole:
    "各县（市、区）教育局、市直学校" → 2 units; "各区、县级市党委组织部" → 1."""
    pieces = [p.strip() for p in split_top_level(text, separators)]
    units: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        if units and _joins(units[-1], piece):
            units[-1] = f"{units[-1]}、{piece}"
        else:
            units.append(piece)
    return units


def _joins(previous: str, piece: str) -> bool:
    """Whether ``piece`` continues an enumeration of levels: "各区" + "县级市", "各县、市" + "区教育局"."""
    last = previous.split("、")[-1]
    return previous.startswith("各") and bool(_LEVEL_ONLY.match(last)) and bool(_STARTS_WITH_LEVEL.match(piece))


def split_top_level(text: str, separators: str) -> list[str]:
    """Split at ``separators`` outside brackets: "各县(市、区)教育局、市直学校" → two pieces, not three."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in OPEN:
            depth += 1
        elif char in CLOSE:
            depth = max(0, depth - 1)
        if char in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _head_tail(value: str) -> tuple[str, str]:
    parts = split_top_level(value, _HEAD_TAIL)
    return parts[0], value[len(parts[0]) + 1 :] if len(parts) > 1 else ""


def _depth_at(text: str, position: int) -> int:
    depth = 0
    for char in text[:position]:
        if char in OPEN:
            depth += 1
        elif char in CLOSE:
            depth = max(0, depth - 1)
    return depth
