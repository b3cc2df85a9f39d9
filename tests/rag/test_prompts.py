"""Prompt files: each loads, has a system and a human part, and takes exactly the variables the code fills.

Each prompt's behaviour with a real model is tested in tests/rag/test_generate.py (marked ``llm``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.prompts import PROMPTS_DIR, PromptError, available, load_prompt

NAMES = sorted(available())


def test_the_generator_s_prompts_exist() -> None:
    assert {"answer", "explain"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_version_loads_and_takes_context_and_question(name: str) -> None:
    for version in available()[name]:
        prompt = load_prompt(name, version)
        assert prompt.id == f"{name}.v{version}"
        assert set(prompt.template.input_variables) == {"context", "question"}
        system, human = prompt.template.format_messages(context="【第8项】甲。", question="乙?")
        assert system.type == "system" and human.type == "human"
        assert "【第8项】甲。" in human.content and "乙?" in human.content
        assert "【第N项】" in system.content  # every prompt asks for citations: the checks require one


def test_the_highest_version_is_the_default(tmp_path: Path) -> None:
    text = (PROMPTS_DIR / "answer.v1.md").read_text(encoding="utf-8")
    (tmp_path / "answer.v1.md").write_text(text, encoding="utf-8")
    (tmp_path / "answer.v2.md").write_text(text.replace("一两句话", "一句话"), encoding="utf-8")
    assert load_prompt("answer", directory=tmp_path).version == 2
    assert "一两句话" in load_prompt("answer", 1, directory=tmp_path).template.messages[0].prompt.template


def test_missing_or_malformed_prompts_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="add nothing.v1.md"):
        load_prompt("nothing", directory=tmp_path)
    (tmp_path / "bad.v1.md").write_text("## human\n{question}\n", encoding="utf-8")
    with pytest.raises(PromptError, match="system"):
        load_prompt("bad", directory=tmp_path)
    with pytest.raises(PromptError, match="versions"):
        load_prompt("answer", 99)
