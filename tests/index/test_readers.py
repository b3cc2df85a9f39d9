"""Plan files of every format, built for real from the fixture plans' text, parse as the text does; files that
cannot be read get an error naming the file, the place and what was expected."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from index.errors import DocumentError, PlanParseError, UnsupportedFormatError
from index.model import Plan
from index.parse import parse_plan
from index.readers import parse_document, read_bytes, read_document
from index.readers.word import table_lines
from tests.documents import PDF_FONT, write_docx, write_government_page, write_pdf, write_wechat_article
from tests.index.test_fixture_plans import IDS, PLANS

needs_font = pytest.mark.skipif(not PDF_FONT.is_file(), reason=f"{PDF_FONT} missing: run scripts/system-deps.sh")


def fixture_text(plan_id: str) -> str:
    return (PLANS / f"{plan_id}.txt").read_text(encoding="utf-8")


def content(plan: Plan) -> tuple:
    """What a plan says, whatever file it came from: title, preamble, sections, tasks with roles, closing."""
    return (
        plan.title,
        plan.preamble,
        plan.numbering,
        [(s.number, s.title, [x.title for x in s.subsections]) for s in plan.sections],
        [(t.ref, t.title, t.body, t.note, t.assigned, t.leaders, t.subsection) for t in plan.tasks],
        plan.missing_refs,
        [p.text for p in plan.closing],
    )


def test_text_in_utf8_with_a_bom_and_in_gb18030_reads_the_same(tmp_path: Path) -> None:
    text = fixture_text("qingshan-edu-2022")
    for name, data, encoding in [
        ("plain.txt", text.encode("utf-8"), "utf-8"),
        ("bom.txt", codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8-sig"),
        ("gbk.txt", text.encode("gb18030"), "gb18030"),
    ]:
        (tmp_path / name).write_bytes(data)
        source = read_document(tmp_path / name)
        assert (source.text, source.encoding, source.format) == (text, encoding, "txt")


@pytest.mark.parametrize("plan_id", IDS)
def test_docx_parses_as_the_text(plan_id: str, tmp_path: Path) -> None:
    text = fixture_text(plan_id)
    source = read_document(write_docx(text, tmp_path / f"{plan_id}.docx"))
    assert source.format == "docx"
    assert content(parse_plan(source.text)) == content(parse_plan(text))
    assert [d.text for d in parse_plan(source.text).dropped] == [d.text for d in parse_plan(text).dropped]


@needs_font
@pytest.mark.parametrize("plan_id", IDS)
def test_pdf_parses_as_the_text(plan_id: str, tmp_path: Path) -> None:
    text = fixture_text(plan_id)
    source = read_document(write_pdf(text, tmp_path / f"{plan_id}.pdf"))
    assert content(parse_plan(source.text)) == content(parse_plan(text))
    # The running header and the page numbers are gone, and said so; the page furniture of the text stays
    # furniture (dropped by the parser, as from the text).
    assert "青山市教育局文件" not in source.text and "- 1 -" not in source.text
    pages = sum(1 for d in source.removed if d.reason.startswith("page number"))
    assert pages >= 2 and any(d.reason.startswith("running header") for d in source.removed)
    assert [d.text.replace(" ", "") for d in parse_plan(source.text).dropped] == [
        d.text.replace(" ", "") for d in parse_plan(text).dropped
    ]


@needs_font
def test_pdf_without_indentation_rejoins_paragraphs_by_their_short_last_lines(tmp_path: Path) -> None:
    text = fixture_text("cuifeng-sport-2023")  # no indentation in the plan itself either
    source = read_document(write_pdf(text, tmp_path / "plain.pdf", indent=False, size=10.5))
    assert content(parse_plan(source.text)) == content(parse_plan(text))


@pytest.mark.parametrize("plan_id", IDS)
def test_government_page_parses_as_the_text(plan_id: str, tmp_path: Path) -> None:
    text = fixture_text(plan_id)
    source = read_document(write_government_page(text, tmp_path / f"{plan_id}.html"))
    assert "网站标识码" not in source.text and "相关链接" not in source.text and "无障碍浏览" not in source.text
    assert content(parse_plan(source.text)) == content(parse_plan(text))


def test_government_page_in_gb2312_and_a_wechat_article(tmp_path: Path) -> None:
    text = fixture_text("meixi-edu-2023")
    gb = read_document(write_government_page(text, tmp_path / "gb.htm", encoding="gb2312"))
    assert content(parse_plan(gb.text)) == content(parse_plan(text))
    wechat = read_document(write_wechat_article(text, tmp_path / "wechat.html"))
    assert "关注该公众号" not in wechat.text and "msg_title" not in wechat.text
    assert content(parse_plan(wechat.text)) == content(parse_plan(text))


def test_a_task_table_in_word_becomes_tasks_with_roles(tmp_path: Path) -> None:
    table = [
        ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"],
        ["一、加强党的建设"] * 5,  # one cell merged across the row
        ["1", "加强学生心理健康教育。每校配备专职教师。", "德育科", "基础教育科\n教研室", "12月底"],
        ["2", "推进课后服务。", "基础教育科", "", ""],
    ]
    path = write_docx("某县教育局2023年工作要点\n为做好今年工作，制定本要点。", tmp_path / "table.docx", table=table)
    plan = parse_document(read_document(path))
    one, two = plan.tasks
    assert plan.section(1).title == "加强党的建设"
    assert one.body == "加强学生心理健康教育。每校配备专职教师。完成时限：12月底。"
    assert (one.leads, one.units) == (("德育科",), ("德育科", "基础教育科", "教研室"))
    assert two.units == ("基础教育科",)
    assert table_lines(iter([["甲", "乙"], ["丙", "丁"]])) == ["甲 乙", "丙 丁"]  # not a task table: rows as lines


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("plan.doc", b"\xd0\xcf\x11\xe0 old word", r"plan\.doc.*expected one of \.txt"),
        ("plan.xlsx", b"PK\x03\x04", r"plan\.xlsx"),
        ("plan.docx", b"not a zip at all", r"plan\.docx is not a readable \.docx"),
        ("plan.pdf", b"%PDF-1.4 garbage", r"plan\.pdf"),
        ("plan.txt", "一、总则\n".encode() + b"1.\x81\x20\n", r"plan\.txt line 2 .*expected UTF-8 or GB18030"),
        ("plan.txt", b"abc\x00def", r"plan\.txt line 1: a NUL byte"),
        ("plan.txt", b"  \n\n", r"plan\.txt is empty"),
        ("plan.html", b"<html><body></body></html>", r"plan\.html"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file(name: str, data: bytes, match: str) -> None:
    with pytest.raises(DocumentError, match=match):
        read_bytes(data, name)


def test_unsupported_suffix_is_its_own_error_and_a_scan_has_no_text_layer(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError):
        read_bytes(b"x", "plan.odt")
    from reportlab.pdfgen import canvas

    scan = canvas.Canvas(str(tmp_path / "scan.pdf"))
    scan.rect(72, 72, 300, 500, fill=1)
    scan.showPage()
    scan.save()
    with pytest.raises(DocumentError, match="no text layer"):
        read_document(tmp_path / "scan.pdf")


def test_a_file_that_is_no_plan_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("会议纪要\n今天开会讨论了一些事情。\n", encoding="utf-8")
    with pytest.raises(PlanParseError, match=r"^notes\.txt: .*No numbered tasks"):
        parse_document(read_document(path))
