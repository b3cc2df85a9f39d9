"""Which plan of a library a question names: by region (青山, Qingshan), year (2022年, 今年, 去年), issuer
(青山市教育局) or kind of issuer (教育局, 卫健委), and the question without those words.

A question may name two plans ("萍乡2021年和青山2023年比…", "今年和去年比…"): the names are read in order and
grouped, a new group starting where a kind of name already given comes again (a second region, a second year); a
group that gives only a year takes the issuer of the group before ("青山市教育局2023年相比2022年"). Each group then
stands for the plans it fits; when several fit ("2023年…" of four issuers), the conversation's plan, its issuer, the
default plan, the default issuer and the newest year decide, in that order.

The kinds of issuer and their short and English names are data (``lexicons/plans/issuers.txt``); regions, years
and issuers come from each plan's metadata. "今年" is the configured current year; a library without this year's
plan of the issuer reads it as the issuer's newest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from index.catalog import PlanMeta
from index.normalize import fold
from index.pinyin import pinyin

ISSUERS_FILE = Path(__file__).resolve().parent.parent / "lexicons" / "plans" / "issuers.txt"
# A year: "2022年", "2022年度", "2022"; not a number in a figure (2022.5万元, 20220人, 2023%) or a task's (第2021项).
_YEAR = re.compile(r"(?<![\d.第])((?:19|20)\d{2})(?:年度|年)?(?![\d.%项个条])")
_RELATIVE = {"今年": 0, "本年度": 0, "this year": 0, "去年": -1, "last year": -1, "前年": -2, "明年": 1}
_LATIN = re.compile(r"[a-z]")
_JOINERS = "的年今去前市县区委教卫体人和与跟"  # what follows a region naming a plan, not a longer name
# After a plan's name: how the question frames it ("的工作要点里", "计划中", "那份", "'s 2021 education plan").
_FRAME_AFTER = re.compile(
    r"(?:委)?(?:年度|年)?(?:的)?(?:(?:人才)?(?:工作)?(?:要点|计划)|那份|这份)?(?:里面|里|中|上)?(?:的)?[，,、：:\s]*"
)
_LATIN_FRAME = re.compile(r"(?:'s|’s)?(?:\s+(?:work\s+plan|plan|education|health|sports|talent))*", re.I)


@dataclass(frozen=True)
class IssuerKind:
    names: tuple[str, ...]  # how an issuer's full name ends: 卫生健康委员会
    said: tuple[str, ...]  # short and English names: 卫健委, health commission


@lru_cache(maxsize=4)
def issuer_kinds(path: Path = ISSUERS_FILE) -> tuple[IssuerKind, ...]:
    kinds = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        left, _, right = line.partition("<-")
        names = tuple(x.strip() for x in left.split("|") if x.strip())
        said = tuple(x.strip().lower() for x in right.split("|") if x.strip())
        kinds.append(IssuerKind(names, said))
    return tuple(kinds)


def issuer_kind(meta: PlanMeta) -> str:
    """The issuer without its region: 青山市教育局 → 教育局;
    中共澄湖市委人才工作领导小组办公室 → 人才工作领导小组办公室."""
    name = meta.issuer.removeprefix("中共")
    for prefix in (meta.region, meta.region_short):
        if prefix and name.startswith(prefix):
            return name[len(prefix) :].removeprefix("委") if name[len(prefix) :] != "委" else ""
    return name if name != meta.issuer or not meta.region else ""


@dataclass(frozen=True)
class Name:
    """A word of a question that names plans: where it stands, what it says of them."""

    start: int
    end: int
    kind: str  # "title", "issuer", "region", "type", "year"
    value: str  # the plan id (title), issuer, region, kind of issuer; or the year as digits
    relative: bool = False  # 今年/去年: a year counted from the current one


@dataclass(frozen=True)
class Reference:
    """One plan a question names: the names that say it, and the plans they fit, best first."""

    names: tuple[Name, ...]
    plans: tuple[str, ...]  # ids; () when the library has no such plan

    @property
    def plan(self) -> str | None:
        return self.plans[0] if self.plans else None

    def says(self, kind: str) -> bool:
        return any(n.kind == kind for n in self.names)


@dataclass(frozen=True)
class Reading:
    """What a question says of the library's plans."""

    question: str  # as asked (folded)
    references: tuple[Reference, ...] = ()
    remainder: str = ""  # the question without the words that named its plan(s)
    spans: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def plan(self) -> str | None:
        """The plan the question names first, if the library has it."""
        return next((r.plan for r in self.references if r.plan), None)


@dataclass(frozen=True)
class Preference:
    """What decides between plans that fit a name equally."""

    current: str | None = None  # the conversation's plan
    default: str | None = None  # the library's default plan
    default_issuer: str = ""


@dataclass(frozen=True)
class _Forms:
    forms: dict[str, tuple[str, str]]  # as written (folded, lower case) → (kind, value)
    chinese: list[str]  # the forms without Latin letters, longest first
    latin: re.Pattern[str] | None  # the others, as whole words


class PlanNames:
    """The names of a library's plans, found in questions."""

    def __init__(self, plans: Sequence[PlanMeta], current_year: int) -> None:
        self.plans = {p.id: p for p in plans}
        self.current_year = current_year
        self._metas = tuple(plans)

    @cached_property
    def _tables(self) -> _Forms:
        """Every form a name is written in, worked out when a question is first read: a library of one plan reads
        none (it routes nothing), and the regions' pinyin costs a 4 MiB table and ~30 ms of the start-up."""
        plans = self._metas
        forms: dict[str, tuple[str, str]] = {}

        def add(form: str, kind: str, value: str) -> None:
            form = fold(form).lower().strip()
            if len(form) >= 2 and form not in forms:
                forms[form] = (kind, value)

        kinds = issuer_kinds()
        for p in plans:
            add(p.title, "title", p.id)
        for p in plans:
            if p.issuer:
                add(p.issuer, "issuer", p.issuer)
                add(p.issuer.removeprefix("中共"), "issuer", p.issuer)
        for p in plans:
            if p.region:
                add(p.region, "region", p.region)
                add(p.region_short, "region", p.region)
                add(pinyin(p.region_short), "region", p.region)
        for p in plans:
            kind = issuer_kind(p)
            if not kind:
                continue
            add(kind, "type", kind)
            for k in kinds:
                if kind in k.names:
                    for said in (*k.names, *k.said):
                        add(said, "type", kind)
        ordered = sorted(forms, key=len, reverse=True)
        chinese = [f for f in ordered if not _LATIN.search(f)]
        latin = [re.escape(f) for f in ordered if _LATIN.search(f)]
        pattern = re.compile(r"(?<![a-z])(?:" + "|".join(latin) + r")(?![a-z])") if latin else None
        return _Forms(forms, chinese, pattern)

    def names(self, text: str) -> list[Name]:
        """Names of plans in ``text`` (folded), in reading order, longest first where they overlap."""
        lowered = text.lower()
        taken = [False] * len(lowered)
        found: list[Name] = []

        def claim(start: int, end: int, kind: str, value: str, relative: bool = False) -> None:
            if any(taken[start:end]):
                return
            taken[start:end] = [True] * (end - start)
            found.append(Name(start, end, kind, value, relative))

        for word, offset in sorted(_RELATIVE.items(), key=lambda kv: -len(kv[0])):
            for m in re.finditer(re.escape(word), lowered):
                claim(m.start(), m.end(), "year", str(self.current_year + offset), relative=True)
        for m in _YEAR.finditer(lowered):
            claim(m.start(), m.end(), "year", m.group(1))
        tables = self._tables
        if tables.latin is not None:
            for m in tables.latin.finditer(lowered):
                claim(m.start(), m.end(), *tables.forms[m.group()])
        for form in tables.chinese:
            start = lowered.find(form)
            while start >= 0:
                claim(start, start + len(form), *tables.forms[form])
                start = lowered.find(form, start + 1)
        return sorted(found, key=lambda n: n.start)

    def read(
        self, question: str, prefer: Preference | None = None, in_plan: Callable[[str, str], bool] | None = None
    ) -> Reading:
        """The plans ``question`` names (grouped, each resolved) and the question without their names.

        ``in_plan(plan_id, text)`` tells whether the plan's text says ``text``: a region that begins a longer name
        the plan writes (青山 of “青山智慧教育云平台”, 翠峰 of 翠峰湖) is the topic's name and stays in the question."""
        text = fold(question)
        prefer = prefer or Preference()
        groups = _group(self.names(text))
        references: list[Reference] = []
        before: Reference | None = None
        for names in groups:
            ref = self._resolve(names, before, prefer)
            if ref is None:
                continue
            references.append(ref)
            before = ref
        spans = tuple(
            (n.start, n.end)
            for r in references
            if r.plan
            for n in r.names
            if not (in_plan and n.kind == "region" and _names_more(text, n, r.plan, in_plan))
        )
        return Reading(text, tuple(references), _strip(text, spans), spans)

    def _resolve(self, names: list[Name], before: Reference | None, prefer: Preference) -> Reference | None:
        want: dict[str, set[str]] = {}
        for n in names:
            if n.kind == "title":
                return Reference(tuple(names), (n.value,))
            want.setdefault(n.kind, set()).add(n.value)
        if before is not None and not ({"issuer", "region", "type"} & set(want)) and before.plan:
            inherited = self.plans[before.plan]  # "…2023年相比2022年": the same issuer, another year
            want["issuer"] = {inherited.issuer} if inherited.issuer else set()
            want["region"] = {inherited.region} if inherited.region else set()
        fits = [p for p in self.plans.values() if _fits(p, want, self)]
        relative_now = any(n.relative and n.value == str(self.current_year) for n in names)
        if not fits and relative_now:  # "今年" before this year's plan is in the library: the newest one
            fits = [p for p in self.plans.values() if _fits(p, {k: v for k, v in want.items() if k != "year"}, self)]
            fits = [p for p in fits if p.year == max((q.year or 0) for q in fits)]
        if not fits and not ({"issuer", "region", "type"} & set(want)):
            return Reference(tuple(names), ())  # a year the library has no plan of: say nothing of the plan
        return Reference(tuple(names), tuple(p.id for p in self._ranked(fits, prefer)))

    def _ranked(self, fits: list[PlanMeta], prefer: Preference) -> list[PlanMeta]:
        current = self.plans.get(prefer.current or "")
        default = self.plans.get(prefer.default or "")

        def key(p: PlanMeta) -> tuple[int, int, int, int, int, str]:
            return (
                p.id != (current.id if current else None),
                not (current and p.issuer == current.issuer),
                p.id != (default.id if default else None),
                not (prefer.default_issuer and p.issuer == prefer.default_issuer),
                -(p.year or 0),
                p.id,
            )

        return sorted(fits, key=key)


def _fits(p: PlanMeta, want: dict[str, set[str]], names: PlanNames) -> bool:
    if "year" in want and str(p.year) not in want["year"]:
        return False
    if want.get("issuer") and p.issuer not in want["issuer"]:
        return False
    if want.get("region") and p.region not in want["region"]:
        return False
    return not (want.get("type") and issuer_kind(p) not in want["type"])


def _names_more(text: str, name: Name, plan_id: str, in_plan: Callable[[str, str], bool]) -> bool:
    """The region ``name`` runs on into a word the plan itself writes (青山智慧…, 翠峰湖…)."""
    following = text[name.end : name.end + 2]
    if len(following) < 2 or not all("\u4e00" <= c <= "\u9fff" for c in following) or following[0] in _JOINERS:
        return False
    return in_plan(plan_id, text[name.start : name.end + 2])


def _group(names: list[Name]) -> list[list[Name]]:
    """Names in reading order, a new group where a kind already in the group comes again with another value."""
    groups: list[list[Name]] = []
    for n in names:
        if groups and not any(m.kind == n.kind and m.value != n.value for m in groups[-1]):
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def _strip(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """``text`` without the plan names at ``spans`` and the words that frame them ("的工作要点里，")."""
    if not spans:
        return text
    keep = [True] * len(text)
    ordered = sorted(spans)
    for i, (start, end) in enumerate(ordered):
        keep[start:end] = [False] * (end - start)
        limit = ordered[i + 1][0] if i + 1 < len(ordered) else len(text)
        frame = _FRAME_AFTER.match(text, end, limit)
        if frame is None or frame.end() == end:
            frame = _LATIN_FRAME.match(text, end, limit)
        if frame:
            keep[end : frame.end()] = [False] * (frame.end() - end)
    stripped = "".join(c for c, k in zip(text, keep, strict=True) if k).strip(" ，,、：:")
    return stripped or text
