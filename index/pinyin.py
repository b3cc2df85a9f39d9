"""Chinese → pinyin without tones ("青山" → "qingshan", "重庆" → "chongqing"): plan ids made from a region's name,
and the way an English question writes a Chinese place.

Read from a table (``lexicons/plans/pinyin.tsv``, made from pypinyin's data by ``scripts/make_pinyin_table.py``):
every basic CJK character's common reading and the phrases read otherwise. Loading it costs ~40 ms and a few MiB,
where importing pypinyin cost 0.9 s and 55 MiB at every start."""

from __future__ import annotations

import functools
from pathlib import Path

PINYIN_TABLE = Path(__file__).resolve().parent.parent / "lexicons" / "plans" / "pinyin.tsv"


@functools.cache
def _table(path: Path = PINYIN_TABLE) -> tuple[dict[str, str], int]:
    """The readings by characters, and the longest phrase's length."""
    readings: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            text, reading = line.split("\t")
            readings[text] = reading
    return readings, max(map(len, readings))


def pinyin(text: str) -> str:
    """``text`` in pinyin, lower case, no tones, no spaces: the longest known phrase at each point, else the
    character's common reading, else the character itself."""
    return read(text, *_table())


def read(text: str, readings: dict[str, str], longest: int) -> str:
    """``text`` read with the table ``readings`` (phrases up to ``longest`` characters)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 0, -1):
            if (reading := readings.get(text[i : i + n])) is not None:
                out.append(reading)
                i += n
                break
        else:
            out.append(text[i].lower())
            i += 1
    return "".join(out)
