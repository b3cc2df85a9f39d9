"""The layout stays one-way: a test walks every module's imports (ast) and fails on an arrow that runs back up.

index  → nothing of ours          (the knowledge base)
rag    → index                    (answering)
config → index, rag               (settings and wiring)
api    → index, rag, config       (the HTTP server and the CLI)
eval   → index, rag, config       (scoring and benchmarks; never the server's code)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "index": {"index"},
    "rag": {"index", "rag"},
    "config": {"index", "rag", "config"},
    "api": {"index", "rag", "config", "api"},
    "eval": {"index", "rag", "config", "eval"},
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file, inside functions and
    ``TYPE_CHECKING`` blocks too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def modules() -> list[tuple[str, Path]]:
    return [(package, path) for package in ALLOWED for path in sorted((ROOT / package).rglob("*.py"))]


@pytest.mark.parametrize(("package", "path"), modules(), ids=lambda v: str(v).removeprefix(str(ROOT) + "/"))
def test_imports_run_one_way(package: str, path: Path) -> None:
    ours = set(ALLOWED)
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for line, name in imports_of(path)
        if name in ours and name not in ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_walk_finds_a_back_edge(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rag.service import Reply\n")
    assert (3, "rag") in imports_of(bad)
    assert "rag" not in ALLOWED["index"]
