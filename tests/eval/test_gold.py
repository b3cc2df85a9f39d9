"""The gold file: valid, large enough, covering every task, unit and intent the issue asks for."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from eval.gold import DATA, SCHEMA, Category, GoldQuestion, Kind, load_gold
from index.model import Plan


@pytest.fixture(scope="module")
def gold() -> list[GoldQuestion]:
    return load_gold()


def every_gold_file() -> list[GoldQuestion]:
    """The bundled plan's questions (gold.jsonl, users.jsonl) and the fixture plans' (plans/*.gold.jsonl)."""
    files = [DATA / "gold.jsonl", DATA / "users.jsonl", *sorted((DATA / "plans").glob("*.gold.jsonl"))]
    return [q for path in files for q in load_gold(path)]


def test_enough_questions_in_both_splits(gold: list[GoldQuestion]) -> None:
    assert len(gold) >= 200
    splits = Counter(q.split.value for q in gold)
    assert splits["dev"] >= 100 and splits["test"] >= 100
    everything = every_gold_file()
    for category in Category:
        in_split = {q.split.value for q in everything if q.category is category}
        assert in_split == {"dev", "test"}, f"{category} is missing from a split"


def test_every_task_asked_at_least_three_times(gold: list[GoldQuestion], plan: Plan) -> None:
    asked = Counter(t for q in gold if not q.refuse and q.kind is not Kind.REVERSE for t in q.gold_tasks)
    thin = {t.number: asked[t.number] for t in plan.tasks if asked[t.number] < 3}
    assert not thin, f"tasks asked fewer than three times: {thin}"
    assert set(asked) <= {t.number for t in plan.tasks}, "a gold task the plan does not have"


def test_reverse_lookup_for_every_unit(gold: list[GoldQuestion], plan: Plan) -> None:
    from index.units import unit_names

    asked = {q.gold_units[0] for q in gold if q.kind is Kind.REVERSE and not q.refuse}
    assert set(unit_names(plan)) <= asked


def test_absent_numbers_and_section_are_asked(gold: list[GoldQuestion]) -> None:
    absent = " ".join(q.question for q in gold if q.category is Category.TASK_ABSENT)
    for n, cn in ((18, "十八"), (19, "十九"), (20, "二十"), (21, "二十一"), (22, "二十二")):
        assert str(n) in absent or cn in absent, f"task {n} is never asked about"
    assert any("第五部分" in q.question for q in gold if q.refuse)


@pytest.mark.parametrize(
    "name", ["gold.jsonl", "users.jsonl", "users-dev2.jsonl", "users-val.jsonl", "users-val2.jsonl"]
)
def test_labels_agree_with_the_plan(name: str, plan: Plan) -> None:
    """Labels were transcribed by hand from the plan; the parser read the same notes independently: every gold
    task exists, a who-question's units are its task's note as the parser reads it, and every required substring
    is in a gold task (a section's substring is its title, not a task's text)."""
    for q in load_gold(DATA / name, "all"):
        cited = [plan.task(n) for n in q.gold_tasks]
        assert all(t is not None for t in cited), f"{q.id}: a gold task the plan does not have"
        if q.kind is Kind.WHO and not q.refuse:
            assert list(cited[0].units) == q.gold_units, q.id  # type: ignore[union-attr]
        if q.kind is not Kind.SECTION:
            for s in q.must_contain:
                assert any(s in t.text for t in cited if t is not None), f"{q.id}: {s!r} is in none of its gold tasks"


def test_schema_file_is_current() -> None:
    assert json.loads(SCHEMA.read_text(encoding="utf-8")) == GoldQuestion.model_json_schema()


def test_validation_rejects_inconsistent_labels() -> None:
    base = {"id": "who-999", "split": "dev", "category": "who", "question": "谁负责?", "kind": "who"}
    with pytest.raises(ValueError):
        GoldQuestion.model_validate({**base, "gold_tasks": [8]})  # who without units
    with pytest.raises(ValueError):
        GoldQuestion.model_validate({**base, "refuse": True, "gold_tasks": [8]})  # refuse with a task
    ok = GoldQuestion.model_validate({**base, "gold_tasks": [8], "gold_units": ["体卫艺科"], "lead_unit": "体卫艺科"})
    assert ok.lead_unit == "体卫艺科"
