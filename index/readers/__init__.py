"""Reading a plan file as text the parser reads: one reader per format, chosen by the file's suffix.

    .txt  UTF-8 (with or without a BOM) or GB18030, detected        index/readers/text.py
    .docx paragraphs and tables, in document order (python-docx)    index/readers/word.py
    .pdf  the text layer: reading order, page furniture removed,    index/readers/pdf.py
          paragraphs rejoined across lines and pages (pdfplumber)
    .html a saved government page or WeChat article: its main text  index/readers/web.py
          (trafilatura), navigation and footers left out

Every reader takes the file's bytes and its name (for messages) and returns a ``PlanText``; a file it cannot read
raises ``DocumentError`` naming the file, where (line, page) and what was expected. ``read_document`` is what the
index build, ``planqa plans check`` and an upload route call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from index.errors import DocumentError, PlanParseError, UnsupportedFormatError
from index.model import DroppedLine, Plan
from index.parse import parse_plan

MAX_FILE_BYTES = 20 * 1024 * 1024  # a plan is a few hundred KB even as a PDF; anything larger is refused unread


@dataclass(frozen=True)
class PlanText:
    """A plan file read as text: one paragraph per line, as ``parse_plan`` reads it."""

    name: str  # the file's name, for messages
    format: str  # "txt", "docx", "pdf", "html"
    text: str
    encoding: str = ""  # of a text file: "utf-8", "utf-8-sig", "gb18030"
    removed: tuple[DroppedLine, ...] = ()  # what reading left out (a PDF's page numbers and running headers)


class PlanReader(Protocol):
    format: str

    def read(self, data: bytes, name: str) -> PlanText: ...


def _registry() -> dict[str, type[PlanReader]]:
    from index.readers.pdf import PdfReader
    from index.readers.text import TextReader
    from index.readers.web import WebReader
    from index.readers.word import WordReader

    return {".txt": TextReader, ".text": TextReader, ".docx": WordReader, ".pdf": PdfReader,
            ".html": WebReader, ".htm": WebReader}  # fmt: skip


def supported_suffixes() -> tuple[str, ...]:
    return tuple(_registry())


def reader_for(name: str) -> PlanReader:
    """The reader for a file name's suffix; DocumentError listing the supported ones otherwise."""
    suffix = Path(name).suffix.lower()
    readers = _registry()
    if suffix not in readers:
        known = "、".join(readers)
        hint = "（旧版 .doc 请另存为 .docx）" if suffix == ".doc" else ""
        raise UnsupportedFormatError(
            f"不支持的文件类型：{name}{hint}。Unsupported file {name!r}: expected one of {', '.join(readers)} "
            f"(支持：{known}){'; save a .doc as .docx' if suffix == '.doc' else ''}."
        )
    return readers[suffix]()


def read_bytes(data: bytes, name: str) -> PlanText:
    """Read an uploaded or loaded file's bytes as plan text."""
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(
            f"文件过大：{name}（{len(data)}字节，上限{MAX_FILE_BYTES}字节）。{name} has {len(data)} bytes; the limit "
            f"is {MAX_FILE_BYTES}: is this really a work plan?"
        )
    if not data.strip():
        raise DocumentError(f"文件为空：{name}。{name} is empty: expected a work plan.")
    return reader_for(name).read(data, name)


def read_document(path: Path) -> PlanText:
    """Read the plan file at ``path``."""
    reader_for(path.name)  # an unsupported suffix is refused before the file is opened
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"无法读取文件：{path}。Cannot read {path} ({e.strerror or e}).") from e
    return read_bytes(data, path.name)


def parse_document(source: PlanText, title: str = "") -> Plan:
    """Parse what a reader returned; a PlanParseError names the file."""
    try:
        return parse_plan(source.text, title=title)
    except PlanParseError as e:
        raise PlanParseError(f"{source.name}: {e}") from e
