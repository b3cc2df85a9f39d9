"""PDF with a text layer (pdfplumber): lines in reading order, page furniture removed, paragraphs rejoined.

A PDF has no paragraphs, only positioned lines. Per page, lines come top to bottom (pdfplumber groups characters
into lines). Then:

- **Furniture**: in the top or bottom band of a page, a page number ("- 3 -", "第3页 共5页", "3/5", "3") or a line
  that repeats (digits aside) in that band on other pages (a running header "青山市教育局文件") is removed and
  reported.
- **Paragraphs**: a line continues the paragraph before it (on this page or the previous one) unless it is
  indented, starts like a heading, task or note ("一、" "1." "（1）" "（责任单位：…"), or the line before it
  stopped short of the right margin (the last line of a paragraph).
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from index.errors import DocumentError
from index.layout import section_heading, subsection_heading, task_marker
from index.model import DroppedLine
from index.notes import is_note_line, note_span
from index.readers import PlanText

BAND = 0.08  # top and bottom share of a page where headers, footers and page numbers live
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－]\s*\d{1,4}\s*[-—–－]|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4}"
    r"|\d{1,4}|[Pp]age\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$"
)


@dataclass(frozen=True)
class _Line:
    page: int
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    height: float  # of its characters: about one character's width in Chinese text


class PdfReader:
    format = "pdf"

    def read(self, data: bytes, name: str) -> PlanText:
        import pdfplumber  # imported when a PDF is read
        from pdfminer.pdfparser import PDFSyntaxError
        from pdfplumber.utils.exceptions import PdfminerException

        try:
            with pdfplumber.open(io.BytesIO(data)) as pdf:
                pages = [(page.height, _lines(page, i)) for i, page in enumerate(pdf.pages, 1)]
        except (PdfminerException, PDFSyntaxError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise DocumentError(
                f"无法打开 PDF 文件：{name}。{name} is not a readable PDF ({type(e).__name__}: {e}); export it again "
                "from the original document."
            ) from e
        if not any(lines for _, lines in pages):
            raise DocumentError(
                f"PDF 没有文字层：{name}。{name} has {len(pages)} page(s) but no text layer (a scan?): expected a PDF "
                "exported from Word or WPS, or run OCR on it first."
            )
        body, removed = _remove_furniture(pages)
        return PlanText(name, self.format, "\n".join(_paragraphs(body)) + "\n", removed=tuple(removed))


def _lines(page: Any, number: int) -> list[_Line]:
    out = []
    for line in page.extract_text_lines(return_chars=True, strip=True):
        text = line["text"].strip()
        if not text:
            continue
        heights = [c["height"] for c in line["chars"] if c["text"].strip()] or [line["bottom"] - line["top"]]
        out.append(_Line(number, text, line["x0"], line["x1"], line["top"], line["bottom"], statistics.median(heights)))
    return out


def _remove_furniture(pages: list[tuple[float, list[_Line]]]) -> tuple[list[_Line], list[DroppedLine]]:
    """Page numbers and running headers/footers out of the top and bottom bands; the rest, in order."""

    def band(height: float, line: _Line) -> bool:
        return line.top < height * BAND or line.bottom > height * (1 - BAND)

    def shape(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    repeats = Counter(shape(line.text) for height, lines in pages for line in lines if band(height, line))
    body: list[_Line] = []
    removed: list[DroppedLine] = []
    for height, lines in pages:
        for line in lines:
            if band(height, line) and _PAGE_NUMBER.match(line.text.replace(" ", "")):
                removed.append(DroppedLine(line.text, f"page number (page {line.page})"))
            elif band(height, line) and repeats[shape(line.text)] > 1 and len(pages) > 1:
                removed.append(DroppedLine(line.text, f"running header or footer (page {line.page})"))
            else:
                body.append(line)
    return body, removed


def _paragraphs(lines: list[_Line]) -> list[str]:
    if not lines:
        return []
    left = min(line.x0 for line in lines)
    right = max(line.x1 for line in lines)
    paragraphs: list[str] = []
    previous: _Line | None = None
    for line in lines:
        if previous is None or _starts_paragraph(line, previous, left, right):
            paragraphs.append(line.text)
        else:
            paragraphs[-1] += line.text
        previous = line
    return paragraphs


def _starts_paragraph(line: _Line, previous: _Line, left: float, right: float) -> bool:
    width = line.height or 10.0
    if line.x0 > left + 0.8 * width:  # indented: the first line of a paragraph, a centred title
        return True
    if previous.x1 < right - 1.5 * width:  # the line before stopped short: it ended its paragraph
        return True
    text = line.text
    if section_heading(text) or subsection_heading(text) or task_marker(text) or is_note_line(text):
        return True
    return note_span(previous.text) is not None  # a task's note closes its paragraph
