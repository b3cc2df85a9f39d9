"""index/pinyin.py against pypinyin itself (the table's source): place names, polyphones read as in a name, and
text it has no reading for."""

from __future__ import annotations

import pytest
from pypinyin import lazy_pinyin

from index.catalog import PlanMeta, derived_id
from index.pinyin import pinyin

PLACES = (
    "萍乡 青山 梅溪 翠峰 澄湖 云岭 长沙 重庆 厦门 蚌埠 六安 长春 "
    "乐山 朝阳区 银川 长治 石家庄 乌鲁木齐 呼和浩特 丽水 大理"
).split()


@pytest.mark.parametrize("name", PLACES)
def test_a_place_reads_as_pypinyin_reads_it(name: str) -> None:
    assert pinyin(name) == "".join(lazy_pinyin(name)).lower()


def test_polyphones_are_read_as_in_the_phrase() -> None:
    assert (pinyin("长沙"), pinyin("重庆"), pinyin("长大")) == ("changsha", "chongqing", "zhangda")


def test_text_without_a_reading_is_kept_lower_case() -> None:
    assert pinyin("A区2023") == "aqu2023"
    assert pinyin("") == ""


def test_a_plan_id_from_the_region_in_pinyin() -> None:
    meta = PlanMeta(
        id="", title="重庆市教育委员会2024年工作要点", issuer="重庆市教育委员会", region="重庆市", year=2024
    )
    assert derived_id(meta) == "chongqing-2024"
