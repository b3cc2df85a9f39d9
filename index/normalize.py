"""Text normalisation shared by parsing, indexing and query analysis."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Invisible characters that users paste from WeChat or Word: zero-width spaces and joiners, byte-order marks,
# soft hyphens, bidi marks, embeddings and isolates, the Mongolian vowel separator, Hangul fillers, variation
# selectors ("谁️" with U+FE0F) and tag characters; also lone surrogates (JSON's "\\ud800" is no character, and
# nothing can encode it).
_INVISIBLE = re.compile(
    "[\ud800-\udfff\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff]"
)
# Emoji and pictographs (and the keycap mark) say nothing a plan says: matchers drop them, so "第1👍2项" is
# "第12项" and "🤔谁负责近视防控" is "谁负责近视防控". Circled numbers (①) are not here: NFKC makes them digits.
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u23e9-\u23fa\u20e3]")
_SPACES = re.compile(r"\s+")
# A sentence ends at 。！？ (or their half-width forms); the mark stays with the sentence.
_SENTENCE_END = re.compile(r"(?<=[。！？!?])")

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc  # imported lazily: building the converter reads its dictionaries once

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified characters (OpenCC ``t2s``); simplified text passes unchanged."""
    return str(_t2s().convert(text))


def fold(text: str) -> str:
    """Full-width → half-width (NFKC), invisible characters removed, runs of white space made one space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip()


# Texts whose normal form is kept: answering a question normalises ~30 texts, most of them the plan's own tasks and
# sentences again (the cited task, the ones compared with it), 4–13 µs each.
NORMALIZED_TEXTS = 4096


@lru_cache(maxsize=NORMALIZED_TEXTS)
def normalize(text: str) -> str:
    """What every matcher compares: folded, without emoji, simplified. Never shown to users; quotes stay verbatim."""
    return to_simplified(fold(_EMOJI.sub("", text)))


def split_sentences(text: str) -> list[str]:
    """Split a paragraph after each 。！？, keeping the mark; blank pieces are dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def parse_cn_number(text: str) -> int | None:
    """``"十二"`` → 12, ``"二十三"`` → 23, ``"一百零五"`` → 105, ``"12"`` → 12; anything else → None."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(c not in CN_NUMERAL_CHARS for c in text):
        return None
    total, current = 0, 0
    for char in text:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        else:
            unit = _CN_UNITS[char]
            total += (current or 1) * unit
            current = 0
    return total + current


def to_cn_numeral(number: int) -> str:
    """12 → ``"十二"``; for section numbers as plans write them (1–99)."""
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    tens, ones = divmod(number, 10)
    head = "" if tens == 1 else digits[tens]
    return f"{head}十{digits[ones] if ones else ''}"
