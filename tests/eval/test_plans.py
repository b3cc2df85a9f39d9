"""``planqa eval --plan``: the fixture plans' gold agrees with what the parser reads, and each plan is scored
through the same service and settings, with a per-plan table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import ROOT, Settings
from eval.gold import Kind, load_gold
from eval.plans import PLANS, QUESTION_SETS, evaluate_plan, plan_ids, question_file, table
from index.model import Role
from index.readers import parse_document, read_document
from index.store import corpus_title
from index.units import tasks_of


@pytest.mark.parametrize("questions", QUESTION_SETS)
@pytest.mark.parametrize("plan_id", plan_ids())
def test_gold_labels_agree_with_the_parsed_plan(plan_id: str, questions: str) -> None:
    """Labels were written by hand from the text; the parser read the same notes independently."""
    path = PLANS / f"{plan_id}.txt"
    plan = parse_document(read_document(path), corpus_title(path))
    for q in load_gold(question_file(plan_id, questions)):
        tasks = [plan.by_ref(str(r)) for r in q.gold_tasks]
        assert all(tasks), f"{q.id}: a gold task the plan lacks"
        if q.kind is Kind.WHO and not q.refuse:
            assert list(tasks[0].units) == q.gold_units, q.id  # type: ignore[union-attr]
        if q.kind is Kind.REVERSE and not q.refuse:
            assert [a.task.ref for a in tasks_of(plan, q.gold_units[0])] == [str(r) for r in q.gold_tasks], q.id
        if q.category.value == "support":
            assert set(q.must_contain) == set(tasks[0].with_role(Role.SUPPORT)), q.id  # type: ignore[union-attr]


def test_a_plan_is_scored_with_a_table(fixture_index, settings: Settings) -> None:
    result = evaluate_plan("meixi-edu-2023", "all", settings, fixture_index("meixi-edu-2023"))
    assert result["overall"]["n"] == 30 and result["tasks"] == 23 and result["numbering"] == "continuous"
    assert {"who", "support", "reverse", "task", "task_absent", "section"} <= set(result["categories"])
    assert result["categories"]["task_absent"]["accuracy"] == 1.0  # task 14 is missing on purpose
    lines = table({"meixi-edu-2023": result})
    assert lines[2].startswith("| meixi-edu-2023 | 23 | continuous | 30 |")


@pytest.mark.slow
def test_eval_plan_command_writes_its_report(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "eval", "--plan", "yunling-health-2023", "--split", "dev"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "| yunling-health-2023 | 27 | per_section | 15 |" in out.stdout
    assert (tmp_path / "eval-plan-yunling-health-2023-dev.md").is_file()
    unknown = subprocess.run(
        [sys.executable, "-m", "api.cli", "eval", "--plan", "nowhere"], cwd=ROOT, capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "known: chenghu-talent-2022" in unknown.stdout


def test_each_plan_has_blind_questions_in_users_words() -> None:
    """The val set: twelve per plan, never tuned on (split test), most of them not in the plan's own words."""
    for plan_id in plan_ids():
        asked = load_gold(question_file(plan_id, "val"))
        assert len(asked) == 12 and {q.split.value for q in asked} == {"test"}
        assert sum(q.category.value == "who_colloquial" for q in asked) == 4 and sum(q.refuse for q in asked) == 4
    with pytest.raises(ValueError, match="known: gold, val"):
        question_file("meixi-edu-2023", "train")
