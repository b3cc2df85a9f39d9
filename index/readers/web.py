"""HTML: a saved government web page or WeChat article, its main text only (trafilatura).

Navigation, side bars, related links and the site footer are left out by trafilatura's main-text extraction
(each paragraph of the article a line). A WeChat article keeps its text in ``<div id="js_content">``, hidden
until a script shows it: that block is read directly, so nothing depends on how the page was saved.
"""

from __future__ import annotations

import re

from index.errors import DocumentError
from index.readers import PlanText
from index.readers.text import decode_text

_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.I)
_BLOCKS = {"p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "br", "blockquote", "table"}


class WebReader:
    format = "html"

    def read(self, data: bytes, name: str) -> PlanText:
        import trafilatura  # trafilatura loads lxml, justext, dateparser: imported when a page is read
        from lxml import html as lxml_html

        page, encoding = _decode(data, name)
        text = ""
        try:
            tree = lxml_html.fromstring(page)
        except (ValueError, TypeError) as e:  # lxml raises ParserError (a ValueError) on empty documents
            raise DocumentError(f"无法解析网页：{name}。{name} is not readable HTML ({e}).") from e
        wechat = tree.xpath('//*[@id="js_content"]')
        if wechat:
            titles = tree.xpath('//h1[contains(@class, "rich_media_title")]')
            text = "\n".join([*(_block_text(t) for t in titles), _block_text(wechat[0])])
        else:
            text = trafilatura.extract(
                page, include_comments=False, include_tables=True, include_links=False, favor_recall=True,
                deduplicate=False,
            ) or ""  # fmt: skip
        if not text.strip():
            raise DocumentError(
                f"网页中找不到正文：{name}。No main text found in {name}: expected a saved page of the plan "
                "(the article itself, not a list of links)."
            )
        return PlanText(name, self.format, text.strip() + "\n", encoding=encoding)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    declared = _CHARSET.search(data[:4096])
    if declared:
        encoding = declared.group(1).decode("ascii").lower()
        encoding = "gb18030" if encoding in {"gb2312", "gbk", "gb18030"} else encoding
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: detect instead
    return decode_text(data, name)


def _block_text(element: object) -> str:
    """The text of an element with a line break at each block element (``<p>``, ``<section>``, ``<br>`` …)."""
    pieces: list[str] = []

    def walk(node: object) -> None:
        tag = getattr(node, "tag", "")
        if isinstance(tag, str) and tag.lower() in ("script", "style", "noscript"):
            return
        block = isinstance(tag, str) and tag.lower() in _BLOCKS
        if block:
            pieces.append("\n")
        if isinstance(tag, str) and getattr(node, "text", None):
            pieces.append(node.text)  # type: ignore[attr-defined]
        for child in node:  # type: ignore[attr-defined]
            walk(child)
            if getattr(child, "tail", None):
                pieces.append(child.tail)
        if block:
            pieces.append("\n")

    walk(element)
    lines = (line.strip() for line in "".join(pieces).split("\n"))
    return "\n".join(line for line in lines if line)
