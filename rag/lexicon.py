"""Synonyms as data: what people say → the terms a plan writes, read from ``lexicons/<domain>.txt``.

A teacher asks about 娃 and 托管; the plan says 学生 and 课后服务. The lexicon bridges the two for keyword search
(the question is expanded with the plan's terms), for the answer gate's soft coverage (a question word counts
as found when one of its plan terms is), for query analysis (unit aliases such as 教研员 → 教研室, round-up
topics) and for English questions (a glossary to the same plan terms). The file format and how to add a domain
are described at the top of ``lexicons/education.txt``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from index.errors import PlanQAError

LEXICON_DIR = Path(__file__).resolve().parent.parent / "lexicons"
# Every domain written so far, loaded together so that one setting serves any plan of the family (an education
# bureau's, a health commission's, a sports bureau's): a word two domains both list is read through the first.
DEFAULT_DOMAINS = ("education", "health", "sports", "government")
_ARROW = "<-"
_UNIT = "@unit"
_FRAME = "@frame"
_LATIN = re.compile(r"[a-z]")
# The level a unit's name ends in: a province's bureau has 处, a city's 科, a county's 股. An alias that says
# another level than the name the plan lists (人事处 for 组织人事科) names a unit of another bureau, not this one.
LEVELS = "处科股"


class LexiconError(PlanQAError):
    """A lexicon file is missing or malformed."""


@dataclass(frozen=True)
class Group:
    """One line: the plan's terms and what people say instead."""

    terms: tuple[str, ...]  # as plans write them
    said: tuple[str, ...]  # colloquial Chinese or English (lower case), besides the terms themselves
    unit: bool = False  # names of responsible units (``@unit``)


@dataclass(frozen=True)
class Match:
    """A word of the question found in the lexicon: said in other words, or one of the plan's terms itself."""

    said: str  # as it stands in the question (normalised)
    start: int
    end: int
    group: Group
    plan_term: bool = False  # the question already says the plan's term (高中 inside 普通高中 is not re-read)


class Lexicon:
    """The groups of one or more domains, with the look-ups the answering steps need."""

    def __init__(self, groups: tuple[Group, ...], domains: tuple[str, ...] = (), frame: frozenset[str] = frozenset()):
        self.groups = groups
        self.domains = domains
        self.frame = frame  # words that frame a question and carry no topic (局里, 这块, 该找谁)
        forms: dict[str, list[Group]] = {}
        for g in groups:
            for form in g.said:
                forms.setdefault(form, []).append(g)
        self._forms = forms
        # The plan's own terms are read whole first, so that a shorter said word inside one (高中 in 普通高中,
        # 职业 in 职业教育) does not split it; they need no bridge, so they expand to nothing.
        self._terms = {t for g in groups if not g.unit for t in g.terms if t not in forms}
        # A plan term stands for the other plan terms of its groups (减负 → 负担, 学业负担): a plan may write the
        # same thing either way ("减轻学生和家庭负担").
        siblings: dict[str, dict[str, None]] = {}
        for g in groups:
            if not g.unit:
                for t in g.terms:
                    if t in self._terms:
                        siblings.setdefault(t, {}).update(dict.fromkeys(x for x in g.terms if x != t))
        self._siblings = {t: tuple(others) for t, others in siblings.items()}
        # Longest first, so 残疾孩子 is read before 孩子 and "after-school care" before "school".
        ordered = sorted(set(forms) | self._terms, key=lambda f: (-len(f), f))
        # The Chinese and the English forms, each with the lengths of the forms by first character, for a scan in
        # one pass over the text: at each character, one set look-up per length a form starting with it has (2–3
        # on average). A regular expression of the 2,000 English forms cost ~140 µs per text, Chinese or not.
        self._chinese = frozenset(f for f in ordered if not _LATIN.search(f))
        self._english = frozenset(f for f in ordered if _LATIN.search(f))
        self._chinese_lengths, self._english_lengths = _lengths(self._chinese), _lengths(self._english)

    def without_said(self, forms: frozenset[str]) -> Lexicon:
        """This lexicon with ``forms`` no longer said for any plan term (unit aliases kept): what coverage would be
        had nobody written those entries."""
        kept = (g if g.unit else replace(g, said=tuple(s for s in g.said if s not in forms)) for g in self.groups)
        return Lexicon(tuple(kept), self.domains, self.frame)

    def find(self, text: str) -> list[Match]:
        """Lexicon words in ``text`` (normalised), longest first, not overlapping, in reading order."""
        lowered = text.lower()
        taken = [False] * len(lowered)
        found: list[tuple[int, int, str]] = []
        for start, end in self._english_words(lowered):
            found.append((start, end, lowered[start:end]))
            taken[start:end] = [True] * (end - start)
        # Every occurrence, then taken longest first, ties left to right, as a reader reads: 高中 in 高中招生, not 中招.
        occurrences = [
            (-n, start, form)
            for start, char in enumerate(lowered)
            for n in self._chinese_lengths.get(char, ())
            if start + n <= len(lowered) and (form := lowered[start : start + n]) in self._chinese
        ]
        for _, start, form in sorted(occurrences):
            end = start + len(form)
            if not any(taken[start:end]):
                found.append((start, end, form))
                taken[start:end] = [True] * len(form)
        out: list[Match] = []
        for s, e, form in sorted(found):
            if form in self._forms:
                out.extend(Match(form, s, e, g) for g in self._forms[form])
            else:
                out.append(Match(form, s, e, Group((form, *self._siblings.get(form, ())), ()), plan_term=True))
        return out

    def _english_words(self, lowered: str) -> Iterator[tuple[int, int]]:
        """Where English forms stand in ``lowered``, as whole words (no letter a-z just before or after), left to
        right, the longest at each place, not overlapping."""
        start, size = 0, len(lowered)
        while start < size:
            if start == 0 or not _is_letter(lowered[start - 1]):
                for n in self._english_lengths.get(lowered[start], ()):
                    end = start + n
                    if end <= size and (end == size or not _is_letter(lowered[end])):
                        if lowered[start:end] in self._english:
                            yield start, end
                            start = end - 1
                            break
            start += 1

    def expand(self, text: str, plan_text: str = "") -> tuple[str, ...]:
        """The plan's terms for what ``text`` says in other words (not unit names), each once, in order. A word
        that ``plan_text`` (the plan, normalised) itself uses needs no bridge: a plan that writes 资金 or 学位 is
        searched for them, not for 经费 or 招生."""
        out: dict[str, None] = {}
        for m in self.find(text):
            if not m.group.unit and not m.plan_term and m.said not in plan_text:
                out.update(dict.fromkeys(m.group.terms))
        return tuple(out)

    def alternatives(self, word: str) -> tuple[str, ...]:
        """``word`` and every plan term it may stand for (for soft coverage): 补贴 → 补贴, 资助, 补助, …"""
        out: dict[str, None] = {word: None}
        out.update(dict.fromkeys(self._siblings.get(word, ())))
        for g in self._forms.get(word.lower(), ()):
            if not g.unit:
                out.update(dict.fromkeys(g.terms))
        return tuple(out)

    def units(self, text: str, names: tuple[str, ...]) -> list[str]:
        """Units of the plan (``names``) the question names in other words: 教研员 → 教研室 (never across
        levels: 人事处 is not 组织人事科; never another office's own name: see ``counterparts``)."""
        return self._listed(text, names, another_office=False)

    def counterparts(self, text: str, names: tuple[str, ...]) -> list[str]:
        """The plan's units that do the work of an office the question names by that office's own name, which the
        plan does not list (教育信息中心 where Qingshan's 2022 plan lists 电化教育馆): a plan of that year has no
        such unit, so the question is not answered as if it named the plan's; the counterpart is offered."""
        return self._listed(text, names, another_office=True)

    def _listed(self, text: str, names: tuple[str, ...], another_office: bool) -> list[str]:
        """The plan's units (``names``) that the ``@unit`` groups found in ``text`` stand for, at the same level,
        through aliases (``another_office`` False) or through another office's own name (True)."""
        out: list[str] = []
        for m in self.find(text):
            if m.group.unit and _another_office(m, names) is another_office:
                out.extend(n for n in m.group.terms if n in names and n not in out and same_level(m.said, n))
        return out

    def unit_spans(self, text: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
        """Where ``units`` found its names in ``text``, to take them out of the question's topic."""
        return [
            (m.start, m.end)
            for m in self.find(text)
            if m.group.unit
            and not _another_office(m, names)
            and any(n in names and same_level(m.said, n) for n in m.group.terms)
        ]


def _lengths(forms: frozenset[str]) -> dict[str, tuple[int, ...]]:
    """The lengths of ``forms`` by first character, longest first."""
    lengths: dict[str, set[int]] = {}
    for f in forms:
        lengths.setdefault(f[0], set()).add(len(f))
    return {char: tuple(sorted(n, reverse=True)) for char, n in lengths.items()}


def _is_letter(char: str) -> bool:
    return "a" <= char <= "z"


def _another_office(m: Match, names: tuple[str, ...]) -> bool:
    """Does the question name, by its own full name, an office the plan does not list? An ``@unit`` group's left
    side holds the names plans give one office (电化教育馆 | 教育信息中心, renamed in some cities): said as one of
    them that the plan lacks, and neither a shortening nor a lengthening of the one the plan lists (人事科 for
    组织人事科, 学生资助中心 for 学生资助管理中心 are the plan's unit), it is another office, not an alias."""
    if m.said not in m.group.terms or m.said in names:
        return False
    listed = [n for n in m.group.terms if n in names]
    return bool(listed) and not any(_in_order(m.said, n) or _in_order(n, m.said) for n in listed)


def _in_order(short: str, long: str) -> bool:
    """Are ``short``'s characters all in ``long``, in the same order (学生资助中心 in 学生资助管理中心)?"""
    rest = iter(long)
    return all(char in rest for char in short)


def same_level(said: str, name: str) -> bool:
    """Whether an alias may stand for a unit's name: both end in the same level (科/处/股), or either in none
    (教研员 → 教研室, 督导处 → 督导室: a 室 or 中心 has no level of its own)."""
    a, b = said[-1:], name[-1:]
    return a not in LEVELS or b not in LEVELS or a == b


def parse_lexicon(text: str, source: str = "<lexicon>") -> tuple[tuple[Group, ...], frozenset[str]]:
    """The groups of a lexicon file and its framing words; LexiconError names the line that is malformed."""
    groups: list[Group] = []
    frame: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _ARROW not in line:
            raise LexiconError(
                f"词表格式错误：{source}:{n}。{source}:{n} has no '{_ARROW}': write 'plan term | … <- said | …'."
            )
        left, right = line.split(_ARROW, 1)
        if left.strip() == _FRAME:
            frame.update(s.strip().lower() for s in right.split("|") if s.strip())
            continue
        unit = left.strip().startswith(_UNIT)
        if unit:
            left = left.strip()[len(_UNIT) :]
        terms = tuple(t.strip() for t in left.split("|") if t.strip())
        said = tuple(s.strip().lower() for s in right.split("|") if s.strip())
        if not terms or not said:
            raise LexiconError(
                f"词表格式错误：{source}:{n}。{source}:{n} needs plan terms on the left and words on the right."
            )
        groups.append(Group(terms, said, unit))
    return tuple(groups), frozenset(frame)


def available_domains(directory: Path = LEXICON_DIR) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.txt")))


@lru_cache(maxsize=8)
def load_lexicon(domains: tuple[str, ...] = DEFAULT_DOMAINS, directory: Path = LEXICON_DIR) -> Lexicon:
    """The lexicon of ``domains`` (file names in ``lexicons/`` without ``.txt``), read once per process."""
    groups: list[Group] = []
    frame: set[str] = set()
    for domain in domains:
        path = directory / f"{domain}.txt"
        if not path.is_file():
            raise LexiconError(
                f"未知的词表领域 {domain!r}。Unknown lexicon domain {domain!r}: use one of "
                f"{list(available_domains(directory))}, or add {path} (see lexicons/education.txt for the format)."
            )
        found, framing = parse_lexicon(path.read_text(encoding="utf-8"), str(path))
        groups.extend(found)
        frame.update(framing)
    return Lexicon(tuple(groups), tuple(domains), frozenset(frame))


if __name__ == "__main__":  # python -m rag.lexicon education: check a domain file and print its groups
    names = tuple(sys.argv[1:]) or DEFAULT_DOMAINS
    lexicon = load_lexicon(names)
    for g in lexicon.groups:
        print(("@unit " if g.unit else "") + " | ".join(g.terms), "<-", " | ".join(g.said))
    print("@frame <-", " | ".join(sorted(lexicon.frame)))
    print(f"{len(lexicon.groups)} groups and {len(lexicon.frame)} framing words from {', '.join(names)}")
