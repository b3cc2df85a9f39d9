"""What identifies a plan in a library: its id and metadata (issuer, region, year, title).

Metadata comes from ``<file>.meta.json`` beside the plan file when it says so, else from the title line, which in
this family names the issuer and the year: ``青山市教育局2022年工作要点`` → issuer 青山市教育局, region 青山市, year
2022. A plan id is lower-case letters, digits, ``-``, ``_`` and ``.`` (it appears in URLs and model names):
``meta.json``'s ``id``, else the file's stem when it is one, else made from the region's pinyin and the year.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from index.errors import PlanConflictError
from index.pinyin import pinyin

PLAN_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
PLAN_ID = re.compile(PLAN_ID_PATTERN)
META_SUFFIX = ".meta.json"
# "青山市教育局2022年工作要点", "澄湖市2022年人才工作要点", "梅溪县教育体育局2023年工作要点"
_TITLE = re.compile(r"^(?P<issuer>.*?)(?P<year>(?:19|20)\d{2})年(?:度)?(?P<rest>.*)$")
# The region an issuer belongs to: "青山市" of 青山市教育局, "澄湖市" of 中共澄湖市委人才工作领导小组办公室.
_REGION = re.compile(r"^(?:中共)?(?P<region>[\u4e00-\u9fff]{2,8}?(?:自治州|地区|省|市|县|区|州|盟|旗))")
_REGION_SUFFIX = re.compile(r"(?:自治州|地区|省|市|县|区|州|盟|旗)$")


@dataclass(frozen=True)
class PlanMeta:
    id: str
    title: str  # 青山市教育局2022年工作要点
    issuer: str  # 青山市教育局 ("" when neither meta.json nor the title says)
    region: str  # 青山市
    year: int | None  # 2022

    @property
    def region_short(self) -> str:
        """The region without its administrative suffix: 青山 of 青山市 (how people name it)."""
        short = _REGION_SUFFIX.sub("", self.region)
        return short if len(short) >= 2 else self.region

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "issuer": self.issuer, "region": self.region, "year": self.year}


def check_plan_id(plan_id: str) -> str:
    if not isinstance(plan_id, str) or not PLAN_ID.fullmatch(plan_id):
        raise PlanConflictError(
            f"计划编号无效：{plan_id!r}（应为小写字母、数字或 -_. ，至多64个字符）。"
            f"Invalid plan id {plan_id!r}: use 1-64 "
            "lower-case letters, digits, '-', '_' or '.', starting with a letter or digit."
        )
    return plan_id


def meta_path(plan_file: Path) -> Path:
    """``plans/qingshan-edu-2022.txt`` → ``plans/qingshan-edu-2022.meta.json``."""
    return plan_file.with_name(plan_file.stem + META_SUFFIX)


def read_meta_file(plan_file: Path) -> dict[str, object]:
    """The plan's ``.meta.json`` as written ({} when there is none or it is no JSON object)."""
    try:
        data = json.loads(meta_path(plan_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def from_title(title: str) -> dict[str, object]:
    """Issuer, region and year as the title line names them ({} for a title without a year)."""
    m = _TITLE.match(title.strip())
    if not m:
        return {}
    issuer = m.group("issuer").strip()
    region = _REGION.match(issuer)
    return {"issuer": issuer, "region": region.group("region") if region else "", "year": int(m.group("year"))}


def plan_meta(plan_file: Path, title: str, written: dict[str, object] | None = None) -> PlanMeta:
    """The metadata of the plan in ``plan_file`` whose parsed title is ``title``: ``written`` (its meta.json)
    first, then what the title says, then the file's name for the id."""
    written = read_meta_file(plan_file) if written is None else written
    guessed = from_title(title)

    def text(name: str) -> str:
        value = written.get(name, guessed.get(name, ""))
        return value.strip() if isinstance(value, str) else ""

    year = written.get("year", guessed.get("year"))
    meta = PlanMeta(
        id="",
        title=text("title") or title,
        issuer=text("issuer"),
        region=text("region") or str(from_title(title).get("region", "")),
        year=year if isinstance(year, int) and not isinstance(year, bool) else None,
    )
    if not meta.region and meta.issuer:
        region = _REGION.match(meta.issuer)
        meta = replace(meta, region=region.group("region") if region else "")
    given = written.get("id")
    if isinstance(given, str) and given:
        return replace(meta, id=check_plan_id(given))
    stem = plan_file.stem.lower()
    return replace(meta, id=stem if PLAN_ID.fullmatch(stem) else derived_id(meta))


def derived_id(meta: PlanMeta) -> str:
    """An id for a plan whose file name is none: the region's pinyin and the year (``qingshan-2022``)."""
    parts = [pinyin(meta.region_short)] if meta.region_short else []
    parts += [str(meta.year)] if meta.year else []
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(parts)).strip("-")
    return slug[:64] or "plan"
