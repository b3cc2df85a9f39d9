"""Real plan files of every format, written from a plan's text, for the reader tests: a Word document written
with python-docx, a PDF laid out with reportlab (wrapped lines, running header, page numbers, paragraphs broken
across pages), a government web page and a WeChat article around the text."""

from __future__ import annotations

import html
from pathlib import Path

INDENT = " \u3000\t"
# The Chinese font scripts/system-deps.sh installs (fonts-wqy-microhei): full coverage, so every character of
# the plans is drawn (reportlab's built-in CID fonts silently leave out some, such as "·").
PDF_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def paragraphs(text: str) -> list[str]:
    return [line.strip(INDENT) for line in text.splitlines() if line.strip(INDENT)]


def write_docx(text: str, path: Path, table: list[list[str]] | None = None) -> Path:
    """One Word paragraph per line of ``text`` (indentation as written), then ``table`` if given."""
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line.rstrip())
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            if len(set(row)) == 1 and len(row) > 1:  # one value across the row: a merged cell, as Word makes it
                grid.cell(r, 0).merge(grid.cell(r, len(row) - 1)).text = row[0]
                continue
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path


def write_pdf(text: str, path: Path, header: str = "青山市教育局文件", indent: bool = True, size: float = 12) -> Path:
    """An A4 PDF of ``text``: each paragraph wrapped at the right margin (its first line indented by two
    characters when ``indent``), a running header on every page, "- N -" at the foot; a paragraph that does not
    fit continues on the next page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = "WenQuanYi"  # embedded (a subset, with its ToUnicode map), as Word and WPS export
    pdfmetrics.registerFont(TTFont(font, str(PDF_FONT), subfontIndex=0))
    width, height = A4
    left, right, top, bottom, leading = 72.0, width - 72.0, height - 90.0, 90.0, size * 1.7
    pdf = canvas.Canvas(str(path), pagesize=A4)
    page, y = 1, top

    def furniture() -> None:
        pdf.setFont(font, 10)
        pdf.drawCentredString(width / 2, height - 45, header)
        pdf.drawCentredString(width / 2, 40, f"- {page} -")
        pdf.setFont(font, size)

    furniture()
    for paragraph in paragraphs(text):
        rest, first = paragraph, True
        while rest:
            x = left + (2 * size if first and indent else 0)
            n, used = 0, 0.0
            while n < len(rest) and used + pdfmetrics.stringWidth(rest[n], font, size) <= right - x:
                used += pdfmetrics.stringWidth(rest[n], font, size)
                n += 1
            if y < bottom:
                pdf.showPage()
                page, y = page + 1, top
                furniture()
            pdf.drawString(x, y, rest[:n])
            rest, first, y = rest[n:], False, y - leading
    pdf.showPage()
    pdf.save()
    return path


def write_government_page(text: str, path: Path, encoding: str = "utf-8") -> Path:
    """A saved government web page: navigation, breadcrumb, side bar, the article (one <p> per line, the title
    an <h1>), related links and the site footer."""
    lines = paragraphs(text)
    body = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{encoding}"><title>工作要点_人民政府门户网站</title>
<link rel="stylesheet" href="/css/main.css"><script>var _hmt = _hmt || [];</script></head>
<body>
<div class="top-bar"><a href="/">网站首页</a> | <a href="/en">English</a> | <a href="/wza">无障碍浏览</a></div>
<div class="header"><ul class="nav">
  <li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li><li><a href="/bsfw">办事服务</a></li>
  <li><a href="/hdjl">互动交流</a></li><li><a href="/zjgk">走进本市</a></li></ul></div>
<div class="main">
  <div class="sidebar"><h3>相关链接</h3><ul><li><a href="/a">教育部</a></li><li><a href="/b">省教育厅</a></li>
    <li><a href="/c">国家卫生健康委员会</a></li></ul></div>
  <div class="article"><div class="article-content">
{body}
  </div></div>
  <div class="related"><h3>相关文章</h3><ul><li><a href="/x1">关于做好春季开学工作的通知</a></li>
    <li><a href="/x2">2022年工作总结</a></li></ul></div>
</div>
<div class="footer"><p>主办：市人民政府办公室　承办：市大数据中心</p>
<p>网站标识码：1234567890　ICP备12345678号　公安机关备案号：12345678901234</p></div>
</body></html>"""
    path.write_bytes(page.encode(encoding))
    return path


def write_wechat_article(text: str, path: Path) -> Path:
    """A WeChat article as a browser saves it: the title in <h1 class="rich_media_title">, the text in
    <div id="js_content"> (hidden until its script runs), in <section> and <p> blocks with <span>s inside."""
    lines = paragraphs(text)
    title, rest = lines[0], lines[1:]
    body = "\n".join(
        f'<section style="margin: 0 8px;"><p><span style="font-size: 15px;">{html.escape(line)}</span></p></section>'
        for line in rest
    )
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(title)}</title></head><body id="activity-detail" class="zh_CN">
<div id="js_article" class="rich_media"><div class="rich_media_inner">
<h1 class="rich_media_title" id="activity-name">{html.escape(title)}</h1>
<div id="meta_content" class="rich_media_meta_list"><span class="rich_media_meta rich_media_meta_text">原创</span>
<span class="rich_media_meta_nickname" id="profileBt"><a id="js_name">公众号名称</a></span>
<em id="publish_time" class="rich_media_meta rich_media_meta_text">2023-02-10 08:30</em></div>
<div class="rich_media_content js_underline_content" id="js_content" style="visibility: hidden;">
{body}
</div>
<div id="js_pc_qr_code" class="qr_code_pc"><p>微信扫一扫<br>关注该公众号</p></div>
</div></div>
<script type="text/javascript">var msg_title = "{html.escape(title)}"; var ct = "1676000000";</script>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
