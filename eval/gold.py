"""The gold questions: one JSON object per line in ``eval/data/gold.jsonl``, validated by ``GoldQuestion``.

Every label was written by reading the plan, never by running the system:

- ``gold_tasks``: the task numbers a right answer cites (any of them counts for hit@k); for a reverse lookup,
  every task whose 责任单位 note names the unit (complete set, scored by precision and recall);
- ``gold_units`` / ``lead_unit``: for a "who" question, the units of the gold task's note in the order written,
  the first being the lead (牵头); for a reverse lookup, the unit asked about;
- ``must_contain``: substrings a correct answer must contain (facts, numbers, task titles);
- ``refuse: true``: the plan cannot answer (absent task numbers 18–22, section 五, units or topics it lacks).

``pydantic`` validates the file here, at the evaluation tool's boundary; ``eval/data/gold.schema.json`` is the
same model as JSON Schema, for editors and other tools (regenerate with ``python -m eval.gold``).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA = Path(__file__).parent / "data"
GOLD = DATA / "gold.jsonl"
SCHEMA = DATA / "gold.schema.json"


class Kind(StrEnum):
    """What a right answer looks like, which decides how it is scored."""

    WHO = "who"  # units of the gold task, lead first
    REVERSE = "reverse"  # the set of tasks naming a unit
    ROUNDUP = "roundup"  # every task about a topic: all of gold_tasks, nothing outside gold_tasks + also_ok
    TASK = "task"  # the task with that number
    SECTION = "section"  # the tasks of that section
    FACT = "fact"  # the gold task, and the substrings


class Category(StrEnum):
    """How the question is asked: the rows of the report."""

    WHO = "who"
    WHO_COLLOQUIAL = "who_colloquial"
    REVERSE = "reverse"
    TASK = "task"
    TASK_ABSENT = "task_absent"
    SECTION = "section"
    SECTION_ABSENT = "section_absent"
    FACT_NUMBER = "fact_number"
    WHAT_HOW = "what_how"
    ENGLISH = "english"
    TRADITIONAL = "traditional"
    TYPO = "typo"
    OUT_OF_SCOPE = "out_of_scope"
    # In users' own words (eval/data/users.jsonl, #11): teachers' colloquial Chinese, English, code-mixed,
    # colloquial questions about a unit's work, topic round-ups, and near misses the plan does not answer.
    COLLOQUIAL = "colloquial"
    MIXED = "mixed"
    UNIT_COLLOQUIAL = "unit_colloquial"
    ROUNDUP = "roundup"
    NEAR_MISS = "near_miss"
    # Other plans (eval/data/plans/*.gold.jsonl, #12): "谁配合…?" asks for the supporting units.
    SUPPORT = "support"


class Split(StrEnum):
    DEV = "dev"  # tune on it
    TEST = "test"  # report on it; never tune on it


class GoldQuestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z_0-9]*-\d{3}$")
    split: Split
    category: Category
    question: str = Field(min_length=1, max_length=500)
    kind: Kind
    # Task references: the number (12), or "section-number" ("3-2") in a plan whose numbering restarts per section.
    gold_tasks: list[int | str] = Field(default_factory=list)
    also_ok: list[int | str] = Field(default_factory=list)  # round-ups: tasks that may be listed, not required
    gold_units: list[str] = Field(default_factory=list)
    lead_unit: str | None = None
    must_contain: list[str] = Field(default_factory=list)
    refuse: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> GoldQuestion:
        if self.refuse:
            if self.gold_tasks or self.gold_units or self.must_contain:
                raise ValueError(f"{self.id}: a question to refuse has no gold tasks, units or substrings")
            return self
        if not self.gold_tasks:
            raise ValueError(f"{self.id}: an answerable question needs gold_tasks")
        if self.kind is Kind.WHO and (not self.gold_units or self.lead_unit != self.gold_units[0]):
            raise ValueError(f"{self.id}: a who question needs gold_units with lead_unit first")
        if self.kind is Kind.REVERSE and len(self.gold_units) != 1:
            raise ValueError(f"{self.id}: a reverse lookup names exactly one gold unit")
        if self.kind is Kind.TASK and len(self.gold_tasks) != 1:
            raise ValueError(f"{self.id}: a task lookup has exactly one gold task")
        return self


def load_gold(path: Path = GOLD, split: str = "all") -> list[GoldQuestion]:
    """The questions of ``split`` (``dev``, ``test`` or ``all``), validated; ValueError names the bad line."""
    out: list[GoldQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = GoldQuestion.model_validate_json(line)
        except ValueError as e:
            raise ValueError(f"{path}:{n}: {e}") from e
        if q.id in seen:
            raise ValueError(f"{path}:{n}: duplicate id {q.id}")
        seen.add(q.id)
        if split == "all" or q.split.value == split:
            out.append(q)
    return out


def write_schema(path: Path = SCHEMA) -> None:
    path.write_text(json.dumps(GoldQuestion.model_json_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_schema()
    print(f"wrote {SCHEMA} ({len(load_gold())} questions valid)")
