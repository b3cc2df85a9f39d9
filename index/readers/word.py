"""Word (.docx): paragraphs and tables in the order the document has them (python-docx).

A paragraph is a line (a manual line break inside it starts another). A table is read by its header row when it
is a task table, which many bureaus issue instead of numbered paragraphs:

    | 序号 | 工作任务                    | 牵头单位 | 配合单位          | 完成时限 |
    | 1    | 加强学生心理健康教育。……     | 德育科   | 基础教育科、教研室 | 12月底   |

becomes the line ``1.加强学生心理健康教育。……完成时限：12月底。（牵头单位：德育科；配合单位：基础教育科、教研室）``,
the note built from the unit columns under their own headers. A row of one merged cell ("一、加强党的建设") is a
line as it stands. Any other table gives one line per row, its cells joined by a space.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from index.errors import DocumentError
from index.notes import NOTE_KEY
from index.readers import PlanText

_NUMBER_HEADER = re.compile(r"^(?:序号|编号|序)$")
_TASK_HEADER = re.compile(r"任务|内容|事项|措施|工作|项目")
_UNIT_HEADER = re.compile(
    r"^(?:责任|牵头|配合|承办|主办|协办|参与|主责)(?:单位|部门|处室|科室|股室)$|^(?:责任|分管|牵头)领导$"
)


class WordReader:
    format = "docx"

    def read(self, data: bytes, name: str) -> PlanText:
        import docx  # python-docx loads lxml: imported when a .docx is read
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        try:
            document = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, KeyError, ValueError) as e:
            raise DocumentError(
                f"无法打开 Word 文件：{name}。{name} is not a readable .docx (a zip of Word XML parts): {e}. "
                "Save it again from Word or WPS as .docx (旧版 .doc 请另存为 .docx)."
            ) from e
        lines: list[str] = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                lines += Paragraph(child, document).text.split("\n")
            elif tag == "tbl":
                lines += table_lines(_rows(Table(child, document)))
        return PlanText(name, self.format, "\n".join(line.rstrip() for line in lines) + "\n")


def _rows(table: Any) -> Iterator[list[str]]:
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):  # a merged cell comes once per grid column it spans
                continue
            seen.append(cell._tc)
            cells.append(cell.text.strip())
        yield cells


def table_lines(rows: Iterator[list[str]]) -> list[str]:
    """The lines a table stands for: task lines under a task table's header, else one line per row."""
    rows_list = list(rows)
    if not rows_list:
        return []
    header = rows_list[0]
    columns = _columns(header)
    if columns is None:
        return [" ".join(c for c in row if c) for row in rows_list if any(row)]
    number_col, task_col, unit_cols = columns
    lines: list[str] = []
    for row in rows_list[1:]:
        if len(row) != len(header):  # a merged row: a section heading, a remark
            lines += [" ".join(c for c in row if c)] if any(row) else []
            continue
        number, task = row[number_col], row[task_col].replace("\n", "")
        marker = f"{number}." if number.isdigit() else number
        extras = "".join(
            f"{header[i]}：{row[i]}。"
            for i in range(len(row))
            if i not in (number_col, task_col, *unit_cols) and row[i] and header[i]
        )
        segments = [f"{header[i]}：{_units(row[i])}" for i in unit_cols if row[i]]
        note = f"（{'；'.join(segments)}）" if segments else ""
        lines.append(f"{marker}{task}{extras}{note}")
    return lines


def _columns(header: list[str]) -> tuple[int, int, list[int]] | None:
    """(number column, task column, unit columns) of a task table's header row, or None."""
    number = next((i for i, h in enumerate(header) if _NUMBER_HEADER.match(h)), None)
    units = [i for i, h in enumerate(header) if _UNIT_HEADER.match(h) and NOTE_KEY.match(h + "：")]
    task = next((i for i, h in enumerate(header) if i != number and i not in units and _TASK_HEADER.search(h)), None)
    if number is None or task is None or not units:
        return None
    return number, task, units


def _units(cell: str) -> str:
    """Units a cell lists one per line or separated by spaces: joined with 、 as a note lists them."""
    return "、".join(u for u in re.split(r"[\n\s]+", cell) if u)
