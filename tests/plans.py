"""Libraries of plans the tests serve: a plan file copied into a plans folder (with its metadata), and the
three-plan library (Pingxiang 2021, Qingshan 2022 and 2023) built in-process from the session's indexes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from config.settings import DEFAULT_CORPUS, ROOT
from index.catalog import meta_path, plan_meta
from index.library import LoadedPlan
from index.store import PlanIndex
from rag.library import LibraryConfig, LibraryService
from rag.sessions import SessionStore

FIXTURE_PLANS = ROOT / "eval" / "data" / "plans"
PINGXIANG, QS2022, QS2023 = "pingxiang-edu-2021", "qingshan-edu-2022", "qingshan-edu-2023"


def copy_plan(plan_file: Path, folder: Path) -> None:
    """``plan_file`` and its ``.meta.json`` (when it has one) into the plans folder ``folder``."""
    shutil.copy(plan_file, folder / plan_file.name)
    if meta_path(plan_file).exists():
        shutil.copy(meta_path(plan_file), folder / meta_path(plan_file).name)


def loaded_plan(path: Path, index: PlanIndex) -> LoadedPlan:
    return LoadedPlan(meta=plan_meta(path, index.plan.title), index=index, path=path)


def three_plans(plan_index: PlanIndex, fixture_index: Callable[[str], PlanIndex]) -> LibraryService:
    """Pingxiang 2021 and Qingshan 2022 and 2023 (today = 2023), with a session store of its own."""
    plans = [
        loaded_plan(DEFAULT_CORPUS, plan_index),
        loaded_plan(FIXTURE_PLANS / f"{QS2022}.txt", fixture_index(QS2022)),
        loaded_plan(FIXTURE_PLANS / f"{QS2023}.txt", fixture_index(QS2023)),
    ]
    return LibraryService(plans, library=LibraryConfig(current_year=2023), sessions=SessionStore())
