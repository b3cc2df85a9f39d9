"""What a line of a plan is, judged by its form alone: heading, task, page furniture, closing line.

Each rule carries an example line from a plan of the family. The parser (``index/parse.py``) decides with
these and the line's place in the plan (a furniture rule is never applied to a numbered line or inside a task).
Lines come here stripped of their indentation (ASCII spaces, tabs, U+3000).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from index.normalize import CN_NUMERAL_CHARS, parse_cn_number

INDENT = " \t\u3000\xa0"

# A section heading: "四、着力构建优质均衡的教育公共服务体系" (a Chinese numeral, then 、 or a dot).
_SECTION = re.compile(rf"^([{CN_NUMERAL_CHARS}]{{1,4}})\s*[、.．]\s*(\S.*)$")
# A sub-section heading: "（一）产业提升人才行动计划。围绕…，实施如下重点项目：" (a numeral in brackets).
_SUBSECTION = re.compile(rf"^[（(]\s*([{CN_NUMERAL_CHARS}]{{1,3}})\s*[)）]\s*(\S.*)$")
# A task: "12.全力推动…" "1．深入学习…" "3、15分钟健身圈提质扩面。" (digits, then . ． or 、), or "（3）3岁以下婴幼儿…"
# (digits in brackets). Digits may be full-width ("１．").
_TASK_DOT = re.compile(r"^([0-9０-９]{1,3})\s*([.．、])\s*(.*)$")
_TASK_PAREN = re.compile(r"^([(（]\s*[0-9０-９]{1,3}\s*[)）])\s*(.*)$")
# A decimal quantity at the start of a line: "2.4万个学位…", "1.5亿元用于…" (never a task, whatever the sequence).
_DECIMAL = re.compile(r"^[0-9０-９]{1,3}[.．][0-9０-９]+\s*(?:万|亿|千|百|%|％|‰)")
# A title line before everything else: "赣州市教育局2022年工作要点" (short, no sentence end, names the genre).
TITLE = re.compile(r"^[^。！？!?:：]{4,40}(要点|计划|方案|安排|规划|意见|任务分解)$")


@dataclass(frozen=True)
class Heading:
    number: int
    numeral: str
    title: str


@dataclass(frozen=True)
class Marker:
    """A task's number as the line starts with it."""

    number: int
    marker: str  # as written, with what follows the digits: "12." "1．" "（3）"
    style: str  # "dot" (1. 1． 1、) or "paren" (（1）): a plan numbers its tasks one way
    rest: str  # the line after the marker


def section_heading(line: str) -> Heading | None:
    m = _SECTION.match(line)
    number = parse_cn_number(m.group(1)) if m else None
    return Heading(number, m.group(1), m.group(2).strip()) if m and number else None


def subsection_heading(line: str) -> Heading | None:
    m = _SUBSECTION.match(line)
    number = parse_cn_number(m.group(1)) if m else None
    return Heading(number, m.group(1), m.group(2).strip()) if m and number else None


def subsection_title(text: str) -> str:
    """ "产业提升人才行动计划。围绕…实施如下重点项目：" → "产业提升人才行动计划" (up to the first 。 or ：)."""
    return re.split(r"[。：:]", text, maxsplit=1)[0].strip()


def task_marker(line: str) -> Marker | None:
    if _DECIMAL.match(line):
        return None
    if m := _TASK_DOT.match(line):
        digits, rest = m.group(1), m.group(3)
        marker = line[: len(line) - len(rest)] if rest else line
        return Marker(int(unicodedata.normalize("NFKC", digits)), marker, "dot", rest)
    if m := _TASK_PAREN.match(line):
        marker, rest = m.group(1), m.group(2)
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", marker))
        return Marker(int(digits), line[: len(line) - len(rest)] if rest else line, "paren", rest)
    return None


# Page furniture, each rule a whole line (a word inside a sentence is content: "加强校园网站、公众号…阵地管理").
# The reason names what the line is, for the check report.
_FURNITURE: tuple[tuple[re.Pattern[str], str], ...] = (
    # "来源：青山市教育局  发布时间：2022-03-01", "责任编辑：办公室", "当前位置：首页 > 政务公开 > 规划计划",
    # "编辑：办公室  审核：县教体局", "分享到：", "发布日期：2023-02-15  来源：…  字号：[大 中 小]"
    (
        re.compile(
            r"^(?:来源|信息来源|文章来源|发布时间|发布日期|发文日期|更新时间|责任编辑|编辑|审核|审校|校对|作者|撰稿|"
            r"字号|浏览次数|访问量|点击数|阅读数|当前位置|您现在的位置|您的位置|所在位置|分享到)\s*[:：]"
        ),
        "page furniture: a label of the web page (source, date, editor, location, share)",
    ),
    # "【字体：大 中 小】", "【打印本页】【关闭窗口】", "【字体：大 中 小】  【打印】"
    (
        re.compile(r"^(?:[【\[]\s*(?:字体|字号|打印|关闭|收藏|分享|返回|保存|大\s*中\s*小)[^】\]]{0,12}[】\]]\s*)+$"),
        "page furniture: buttons of the web page (font size, print, close)",
    ),
    # "原创 翠峰体育 翠峰体育 2023-02-10 08:30" (a WeChat article's byline)
    (re.compile(r"^原创\s.*\d{4}[-/.年]\d{1,2}"), "page furniture: the byline of a WeChat article"),
    # "阅读 2316", "在看 12"
    (re.compile(r"^(?:阅读|在看|点赞|赞|浏览)\s*[0-9]+[万wW+]*$"), "page furniture: a reading counter"),
    # "扫一扫在手机打开当前页", "关注公众号", "翠峰体育订阅号二维码", "长按识别二维码关注我们", "阅读原文", "写留言",
    # "▲点击上方蓝字关注我们", "中国教育信息微信服务号": short, no sentence punctuation, a share/follow word.
    (
        re.compile(
            r"^[^。，,；;、！!？?]{0,30}(?:扫一扫|二维码|公众号|订阅号|服务号|视频号|关注我们|长按识别|阅读原文|写留言|"
            r"点击上方|点击下方|在手机打开|返回顶部|上一篇|下一篇)[^。，,；;、！!？?]{0,30}$"
        ),
        "page furniture: a share, follow or QR-code prompt",
    ),
)
# "摘要" on a line of its own: the heading of a repeated abstract.
_ABSTRACT = re.compile(r"^(摘\s*要|内容摘要|导读)[:：]?$")
# An abstract cut short: "…以“强基础、促均衡、提质量、保安全”为主线..."
TRUNCATED = re.compile(r"(\.\.\.|…)$")


def furniture(line: str) -> str | None:
    """Why ``line`` is page furniture, or None when it may be plan text."""
    if _ABSTRACT.match(line):
        return "abstract heading: the abstract repeats the opening paragraph"
    for pattern, reason in _FURNITURE:
        if pattern.search(line):
            return reason
    return None


# Closing lines after the last task: the issuer's signature "青山市教育局" / "中共澄湖市委人才工作领导小组办公室",
# the date "2022年2月25日" (or "二〇二二年二月二十五日"), a bracketed remark without a note key "（此件公开发布）".
_SIGNATURE = re.compile(
    r"^[^\s。，,；;：:、！？!?（）()]{2,30}(?:局|委员会|委|办公室|政府|厅|部|院|中心|小组|处|室|科|股|公司|学校|大学|协会|联合会)$"
)
_DATE = re.compile(
    r"^(?:[0-9]{4}|[〇零一二三四五六七八九]{4})\s*年\s*[0-9一二三四五六七八九十]{1,2}\s*月\s*[0-9一二三四五六七八九十]{1,3}\s*日$"
)
_REMARK = re.compile(r"^[（(][^()（）]{1,20}[)）]$")


def closing_line(line: str) -> bool:
    return bool(_SIGNATURE.match(line) or _DATE.match(line) or _REMARK.match(line))
