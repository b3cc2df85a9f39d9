"""Which plan a question names (rag/routing.py) and which plan answers when it names none (rag/library.py's
default plan and preferred issuer), over the metadata of the evaluation library: Pingxiang 2021 and the six
fixture plans (two years of 青山市教育局, one plan each of a health commission, a sports bureau, an education and
sports bureau and a talent office). Metadata only: no index, no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import DEFAULT_CORPUS, ROOT
from index.catalog import PlanMeta, meta_path
from index.normalize import fold
from rag.library import LibraryConfig, default_plan_id, preferred_issuer
from rag.routing import PlanNames, Preference, issuer_kind

PLANS = ROOT / "eval" / "data" / "plans"
ROUTING = ROOT / "eval" / "data" / "library" / "routing.jsonl"
QS22, QS23, PX21 = "qingshan-edu-2022", "qingshan-edu-2023", "pingxiang-edu-2021"
HEALTH, SPORT, MEIXI, TALENT = "yunling-health-2023", "cuifeng-sport-2023", "meixi-edu-2023", "chenghu-talent-2022"


def _meta(plan_file: Path) -> PlanMeta:
    d = json.loads(meta_path(plan_file).read_text(encoding="utf-8"))
    return PlanMeta(d["id"], d["title"], d["issuer"], d["region"], d["year"])


METAS = (_meta(DEFAULT_CORPUS), *(_meta(p) for p in sorted(PLANS.glob("*.txt"))))


def _prefer(config: LibraryConfig | None = None, current: str | None = None) -> Preference:
    config = config or LibraryConfig()
    default = default_plan_id(METAS, config)
    return Preference(current=current, default=default, default_issuer=preferred_issuer(METAS, config, default))


def _answered_by(question: str, year: int = 2023, config: LibraryConfig | None = None, current: str | None = None):  # type: ignore[no-untyped-def]
    """The plan the library answers ``question`` from: the one it names, else the conversation's, else the default."""
    prefer = _prefer(config, current)
    return PlanNames(METAS, year).read(question, prefer).plan or current or prefer.default


# -- naming one plan -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "plan", "remainder"),
    [
        ("2021年谁负责近视防控？", PX21, "谁负责近视防控？"),
        ("萍乡的计划里谁负责近视防控？", PX21, "谁负责近视防控？"),
        ("青山市教育局2022年工作要点中，心理健康教育谁牵头？", QS22, "心理健康教育谁牵头？"),
        ("卫健委的工作要点里，家庭医生签约谁负责？", HEALTH, "家庭医生签约谁负责？"),
        ("云岭市卫生健康委员会：家庭医生签约谁负责", HEALTH, "家庭医生签约谁负责"),
        ("教体局今年的课后服务谁负责？", MEIXI, "课后服务谁负责？"),
        ("Qingshan 2022: who leads mental health education?", QS22, "who leads mental health education?"),
        ("What does the health commission plan say about rural doctors?", HEALTH, None),
    ],
)
def test_a_question_naming_a_plan_lands_on_it_without_its_name(question: str, plan: str, remainder: str | None) -> None:
    reading = PlanNames(METAS, 2023).read(question, _prefer())
    assert reading.plan == plan
    if remainder is not None:
        assert reading.remainder == fold(remainder)  # the question as read: folded (full-width ？ → ?)


def test_relative_years_count_from_the_current_year_within_the_preferred_issuer() -> None:
    # The preferred issuer is the one with the most plans (青山, two years): 去年 is its 2022 plan, not 澄湖's.
    assert _answered_by("去年的计划里谁负责近视防控？") == QS22
    assert _answered_by("今年谁负责近视防控？") == QS23
    assert _answered_by("前年萍乡的大班额比例是多少？") == PX21
    # Another current year moves them: in 2024, 去年 is 2023.
    assert _answered_by("去年的计划里谁负责近视防控？", year=2024) == QS23
    # 今年 before this year's plan is in the library: the issuer's newest plan.
    assert _answered_by("青山今年的计划里谁负责近视防控？", year=2025) == QS23
    assert _answered_by("澄湖今年的人才公寓谁负责？", year=2023) == TALENT


def test_a_question_naming_no_plan_goes_to_the_default() -> None:
    reading = PlanNames(METAS, 2023).read("谁负责近视防控？", _prefer())
    assert reading.plan is None and reading.references == () and reading.remainder == fold("谁负责近视防控？")
    assert _answered_by("谁负责近视防控？") == QS23  # the newest plan of the issuer with the most plans
    assert _answered_by("谁负责近视防控？", current=PX21) == PX21  # a conversation stays on its plan


def test_the_default_plan_and_the_preferred_issuer_follow_the_settings() -> None:
    assert default_plan_id(METAS, LibraryConfig()) == QS23
    assert default_plan_id(METAS, LibraryConfig(default_plan=PX21)) == PX21
    assert default_plan_id(METAS, LibraryConfig(default_plan="no-such-plan")) == QS23
    assert default_plan_id(METAS, LibraryConfig(default_issuer="中共澄湖市委人才工作领导小组办公室")) == TALENT
    assert default_plan_id((), LibraryConfig()) is None
    # A configured default plan brings its issuer: "2023年…" then means that issuer's 2023 plan.
    config = LibraryConfig(default_plan=HEALTH)
    assert preferred_issuer(METAS, config, default_plan_id(METAS, config)) == "云岭市卫生健康委员会"
    assert _answered_by("2023年的计划里谁负责？", config=config) == HEALTH
    # PLANQA_DEFAULT_ISSUER wins over the default plan's issuer (the default plan itself first, when it fits).
    config = LibraryConfig(default_plan=PX21, default_issuer="青山市教育局")
    assert _answered_by("2023年的计划里谁负责？", config=config) == QS23


def test_last_year_next_to_a_configured_default_plan_is_that_issuers_year_before() -> None:
    """PLANQA_DEFAULT_PLAN set to a plan of an issuer with fewer plans than another: "去年的计划里…" is the default
    plan's issuer's year before, not the year before of the issuer with the most plans."""
    older = PlanMeta(
        "yunling-health-2022", "云岭市卫生健康委员会2022年工作要点", "云岭市卫生健康委员会", "云岭市", 2022
    )
    metas = (*METAS, older, PlanMeta("qingshan-edu-2021", "青山市教育局2021年工作要点", "青山市教育局", "青山市", 2021))
    config = LibraryConfig(default_plan=HEALTH)
    issuer = preferred_issuer(metas, config, HEALTH)
    assert issuer == "云岭市卫生健康委员会"
    prefer = Preference(default=HEALTH, default_issuer=issuer)
    assert PlanNames(metas, 2023).read("去年的计划里谁负责家庭医生签约？", prefer).plan == older.id
    # Unset, the issuer with the most plans (青山, three years) is preferred and its default the newest.
    config = LibraryConfig()
    default = default_plan_id(metas, config)
    assert default == QS23 and preferred_issuer(metas, config, default) == "青山市教育局"


def test_ambiguous_names_are_settled_by_the_conversation_then_the_defaults() -> None:
    names = PlanNames(METAS, 2023)
    reading = names.read("2023年的计划里谁负责？", _prefer())
    assert set(reading.references[0].plans) == {QS23, HEALTH, SPORT, MEIXI}  # four plans of 2023 fit
    assert reading.plan == QS23  # the default plan
    assert _answered_by("2023年的计划里谁负责？", current=SPORT) == SPORT  # the conversation's plan
    assert _answered_by("2022年的呢？", current=TALENT) == TALENT  # its issuer has a 2022 plan: itself
    assert _answered_by("2023年的呢？", current=QS22) == QS23  # the conversation's issuer, another year
    assert _answered_by("青山的计划里谁负责近视防控？", config=LibraryConfig(default_plan=PX21)) == QS23  # newest
    assert _answered_by("2022年的计划里谁负责？", config=LibraryConfig(default_plan=PX21)) in {QS22, TALENT}


def test_a_year_the_library_lacks_names_no_plan_and_stays_in_the_question() -> None:
    reading = PlanNames(METAS, 2023).read("2019年谁负责近视防控？", _prefer())
    assert reading.plan is None and reading.remainder == fold("2019年谁负责近视防控？")
    # An issuer the library has, a year it has not: no plan of that issuer and year is made up.
    assert PlanNames(METAS, 2023).read("萍乡2023年谁负责近视防控？", _prefer()).plan is None


def test_numbers_that_are_not_years_name_no_plan() -> None:
    for question in (
        "第2021项是什么？",
        "投入2022.5万元用于什么？",
        "20220人参加了什么培训？",
        "达到2023%了吗",
        "2021个项目",
    ):
        assert PlanNames(METAS, 2023).read(question, _prefer()).references == (), question


def test_two_plans_named_are_read_in_order_and_a_bare_year_keeps_the_issuer() -> None:
    names = PlanNames(METAS, 2023)
    reading = names.read("青山市教育局2023年相比2022年，近视防控有什么变化？", _prefer())
    assert [r.plan for r in reading.references] == [QS23, QS22]
    reading = names.read("萍乡2021年和青山2023年比，大班额有什么变化？", _prefer())
    assert [r.plan for r in reading.references] == [PX21, QS23]
    reading = names.read("今年和去年比近视防控有什么变化？", _prefer())
    assert [r.plan for r in reading.references] == [QS23, QS22]


def test_a_region_that_begins_a_name_the_plan_writes_stays_in_the_question() -> None:
    names = PlanNames(METAS, 2023)
    written = {QS23: "青山智慧教育云平台", QS22: "青山智慧教育云平台"}

    def in_plan(plan_id: str, words: str) -> bool:
        return words in written.get(plan_id, "")

    reading = names.read("青山智慧教育云平台由谁建设？", _prefer(), in_plan)
    assert reading.plan == QS23 and reading.remainder == fold("青山智慧教育云平台由谁建设？")
    reading = names.read("青山的计划里谁负责近视防控？", _prefer(), in_plan)
    assert reading.remainder == fold("谁负责近视防控？")


def test_latin_names_match_whole_words_only() -> None:
    names = PlanNames(METAS, 2023)
    assert names.read("who leads myopia prevention in qingshan?", _prefer()).plan == QS23
    assert names.read("who leads the qingshanese schools?", _prefer()).references == ()


def test_issuer_kind_takes_the_region_off() -> None:
    kinds = {m.id: issuer_kind(m) for m in METAS}
    assert kinds[QS22] == "教育局" and kinds[HEALTH] == "卫生健康委员会" and kinds[MEIXI] == "教育体育局"
    assert kinds[TALENT] == "人才工作领导小组办公室"


def test_routing_gold_lands_on_the_named_plan() -> None:
    """eval/data/library/routing.jsonl (written blind; ``planqa eval --library`` scores the answers too): with
    today in 2023, as the file assumes, every question lands on its plan by its names alone (target ≥ 0.98)."""
    rows = [json.loads(line) for line in ROUTING.read_text(encoding="utf-8").splitlines()]
    missed = [(r["id"], r["question"]) for r in rows if _answered_by(r["question"]) != r["plan"]]
    assert len(rows) == 101
    assert 1 - len(missed) / len(rows) >= 0.98, missed
