"""Write lexicons/plans/pinyin.tsv from pypinyin's data (MIT): each basic CJK character (U+4E00–U+9FFF) with its
most common reading in pinyin without tones, then every phrase read otherwise than character by character (长沙
changsha, 重庆 chongqing: 4,000 of pypinyin's 47,000). Run when pypinyin's data changes; index/pinyin.py reads the
table, so serving never imports pypinyin (0.9 s and 55 MiB)."""

from __future__ import annotations

import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from pypinyin.phrases_dict import phrases_dict

from index.pinyin import read

OUT = Path(__file__).resolve().parent.parent / "lexicons" / "plans" / "pinyin.tsv"


def main() -> int:
    lines = ["# characters<TAB>pinyin without tones — made by scripts/make_pinyin_table.py from pypinyin's data"]
    chars: dict[str, str] = {}
    for code in range(0x4E00, 0xA000):
        reading = lazy_pinyin(chr(code), style=Style.NORMAL, errors="ignore")
        if reading and reading[0].isascii() and reading[0].isalpha():
            chars[chr(code)] = reading[0].lower()
    lines += [f"{c}\t{r}" for c, r in chars.items()]
    # Every phrase the table would read otherwise than pypinyin does, until none is left: a phrase added can
    # change how a longer one reads (朝阳 zhaoyang, then 朝阳区 chaoyangqu).
    wanted = {p: "".join(lazy_pinyin(p, style=Style.NORMAL)).lower() for p in phrases_dict}
    table, phrases = dict(chars), {}
    while wrong := {p: r for p, r in wanted.items() if r.isascii() and read(p, table, max(map(len, table))) != r}:
        phrases |= wrong
        table |= wrong
    lines += [f"{p}\t{r}" for p, r in sorted(phrases.items())]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(chars)} characters, {len(phrases)} phrases)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
