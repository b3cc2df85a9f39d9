"""Prompt templates, loaded by name from versioned files in ``prompts/`` (no prompt text lives in Python).

A prompt file is ``prompts/<name>.v<N>.md``: an optional leading ``<!-- … -->`` comment saying what it is for,
then a ``## system`` part and a ``## human`` part. Variables are ``{name}`` (LangChain f-string templates).
``load_prompt("answer")`` takes the highest version; ``load_prompt("answer", 1)`` a given one, so a change of
wording is a new file and answers (and eval reports) can name the version they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from index.errors import PromptError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_FILE = re.compile(r"^(?P<name>[a-z0-9_-]+)\.v(?P<version>[0-9]+)\.md$")
_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)
_PART = re.compile(r"^## (system|human)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    template: ChatPromptTemplate

    @property
    def id(self) -> str:
        """``answer.v1``: what answers and reports name."""
        return f"{self.name}.v{self.version}"


def available(directory: Path = PROMPTS_DIR) -> dict[str, list[int]]:
    """Prompt names with their versions, lowest first."""
    found: dict[str, list[int]] = {}
    for path in sorted(directory.glob("*.md")):
        if m := _FILE.match(path.name):
            found.setdefault(m["name"], []).append(int(m["version"]))
    return {name: sorted(versions) for name, versions in found.items()}


def load_prompt(name: str, version: int | None = None, directory: Path = PROMPTS_DIR) -> Prompt:
    versions = available(directory).get(name)
    if not versions:
        raise PromptError(
            f"没有名为“{name}”的提示词文件。No prompt named {name!r} in {directory}: "
            f"add {name}.v1.md there (known: {', '.join(available(directory)) or 'none'})."
        )
    chosen = version if version is not None else versions[-1]
    if chosen not in versions:
        raise PromptError(f"提示词{name}没有第{chosen}版。Prompt {name!r} has versions {versions}, not {chosen}.")
    path = directory / f"{name}.v{chosen}.md"
    return Prompt(name, chosen, parse_prompt(path.read_text(encoding="utf-8"), str(path)))


def parse_prompt(text: str, source: str = "<prompt>") -> ChatPromptTemplate:
    body = _COMMENT.sub("", text, count=1)
    pieces = _PART.split(body)
    # pieces: [before, role, text, role, text, ...]; nothing but blank space may precede the first part.
    if pieces[0].strip() or len(pieces) < 3:
        raise PromptError(f"{source}: expected '## system' and '## human' parts, each on its own line.")
    messages = [(role, content.strip()) for role, content in zip(pieces[1::2], pieces[2::2], strict=True)]
    roles = [role for role, _ in messages]
    if roles != ["system", "human"]:
        raise PromptError(f"{source}: expected a '## system' part then a '## human' part, found {roles}.")
    return ChatPromptTemplate.from_messages(messages)
