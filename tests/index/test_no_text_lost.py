"""Property: for generated plans of the whole family, every input character is in the parsed model or in the
dropped report, and page furniture goes to the report while the same words inside a sentence stay content.

The generator mixes what real plans mix: web-page and WeChat furniture, a repeated abstract, indentation with
U+3000 or spaces, blank lines, four task-number styles numbered continuously or per section, sub-section
headings, titles starting with digits, notes inline or on their own line (every key, both bracket widths, several
leads, collective units with 、, leaders), tasks without notes, noise words inside sentences, closing lines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.check import accounted_lines, check_document
from index.model import Numbering, Plan
from index.normalize import to_cn_numeral
from index.parse import parse_plan, source_rows
from index.readers import PlanText

PROPS = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

HANZI = "教育学校工作推进建设发展质量体系课程教师学生服务管理制度改革全面加强深化落实思想政治安全健康体育美劳动"
# Furniture the plans of the family carry, each a whole line.
FURNITURE = [
    "扫一扫在手机打开当前页",
    "【打印本页】【关闭窗口】",
    "【字体：大 中 小】",
    "来源：某市教育局  发布时间：2023-02-01",
    "责任编辑：办公室",
    "分享到：",
    "关注公众号",
    "长按识别二维码关注我们",
    "阅读 2316",
    "写留言",
    "当前位置：首页 > 政务公开",
]
# The same words as content, inside a sentence.
CONTENT_WITH_NOISE = [
    "加强校园网站、公众号、讲座论坛等阵地管理。",
    "家长扫码即可查看后厨实时画面。",
    "通过微信公众号发布信息，扫描二维码在线报名。",
    "举办全民健身经验分享会。",
]
UNITS = ["办公室", "基础教育科", "教研室", "计财科", "人事股", "市人社局", "市委组织部"]
LOCALS = ["各县（市、区）教育局", "各区、县级市", "市直学校", "各乡（镇）中心学校", "各区、县级市人民政府"]
KEYS = ["责任单位", "牵头单位", "责任处室", "责任科室", "承办单位"]
MARKERS = ["{n}.", "{n}．", "{n}、", "（{n}）"]

SENTENCE = st.builds(
    lambda head, middle, end: head + middle + end,
    st.sampled_from(HANZI),
    st.text(HANZI + "，、“”《》%0123456789", max_size=18),
    st.sampled_from("。！？"),
)


@dataclass(frozen=True)
class Generated:
    text: str
    furniture: list[str]
    tasks: int
    per_section: bool


@st.composite
def notes(draw: st.DrawFn) -> str:
    left, right = draw(st.sampled_from(["（）", "()"]))
    colon = draw(st.sampled_from("：:"))
    sep = draw(st.sampled_from("；;，,"))
    head = "、".join(draw(st.lists(st.sampled_from(UNITS), min_size=1, max_size=3, unique=True)))
    segments = [f"{draw(st.sampled_from(KEYS))}{colon}{head}"]
    if draw(st.booleans()):
        segments.append(f"配合单位{colon}{draw(st.sampled_from(UNITS))}")
    if draw(st.booleans()):
        segments.insert(0, f"责任领导{colon}{draw(st.sampled_from(['主任', '王副主任', '主任、陈副主任']))}")
    note = sep.join(segments)
    if draw(st.booleans()):
        note += f"{draw(st.sampled_from('，,'))}{draw(st.sampled_from(LOCALS))}"
    return f"{left}{note}{right}"


@st.composite
def generated_plans(draw: st.DrawFn) -> Generated:
    indent = draw(st.sampled_from(["", "　　", "  "]))
    gap = "\n" if draw(st.booleans()) else ""
    marker = draw(st.sampled_from(MARKERS))
    per_section = draw(st.booleans())
    furniture: list[str] = []
    lines: list[str] = []

    def furnish() -> None:
        if draw(st.booleans()):
            line = draw(st.sampled_from(FURNITURE))
            furniture.append(line)
            lines.append(line)  # furniture is never indented: the page put it there

    furnish()
    lines.append("某市教育局2023年工作要点")
    furnish()
    preamble = "".join(draw(st.lists(st.one_of(SENTENCE, st.sampled_from(CONTENT_WITH_NOISE)), min_size=1, max_size=3)))
    lines.append(indent + preamble)
    number = 0
    tasks = 0
    for s in range(1, draw(st.integers(1, 4)) + 1):
        lines.append(f"{indent}{to_cn_numeral(s)}、{draw(st.text(HANZI, min_size=2, max_size=12))}")
        if per_section:
            number = 0
        subsections = draw(st.integers(0, 2))
        for sub in range(1, subsections + 2):
            if subsections:
                title = draw(st.text(HANZI, min_size=4, max_size=10))
                lines.append(f"{indent}（{to_cn_numeral(sub)}）{title}。围绕重点，实施如下项目：")
            for _ in range(draw(st.integers(1, 3))):
                number += 1
                tasks += 1
                title = draw(st.one_of(st.text(HANZI, min_size=2, max_size=10), st.just("15分钟健身圈建设")))
                body = "".join(draw(st.lists(st.one_of(SENTENCE, st.sampled_from(CONTENT_WITH_NOISE)), max_size=3)))
                line = f"{indent}{marker.format(n=number)}{title}。{body}"
                place = draw(st.sampled_from(["inline", "own line", "none"]))
                note = draw(notes())
                if place == "inline":
                    lines.append(line + note)
                elif place == "own line":
                    lines += [line, indent + note]
                else:
                    lines.append(line)
                lines += [""] if gap else []
            furnish()
    if draw(st.booleans()):
        lines += [indent + "某市教育局", indent + "2023年2月1日"]
    furnish()
    return Generated("\n".join(lines) + "\n", furniture, tasks, per_section)


def _characters(text: str) -> Counter[str]:
    return Counter(c for c in text if not c.isspace())


def model_text(plan: Plan) -> str:
    """Every piece of text the plan holds, dropped lines included."""
    pieces = [plan.title_line.text] if plan.title_line else []
    pieces += [p.text for p in plan.preamble_paragraphs] + [d.text for d in plan.dropped]
    for s in plan.sections:
        pieces += [s.heading] + [x.heading for x in s.subsections] + [p.text for p in s.paragraphs]
        pieces += [t.text for t in s.tasks]
    pieces += [p.text for p in plan.closing]
    return "".join(pieces)


@PROPS
@given(generated_plans())
def test_every_character_is_in_the_model_or_the_dropped_report(plan: Generated) -> None:
    parsed = parse_plan(plan.text)
    assert _characters(model_text(parsed)) == _characters(plan.text)
    assert accounted_lines(parsed) == len(source_rows(plan.text))
    report = check_document(PlanText("generated.txt", "txt", plan.text))
    assert report.complete


@PROPS
@given(generated_plans())
def test_furniture_is_dropped_and_every_task_is_found(plan: Generated) -> None:
    parsed = parse_plan(plan.text)
    assert sorted(d.text for d in parsed.dropped) == sorted(plan.furniture)
    assert all(d.reason and d.line > 0 for d in parsed.dropped)
    assert len(parsed.tasks) == plan.tasks
    restarts = plan.per_section and sum(1 for s in parsed.sections if s.tasks) >= 2
    assert parsed.numbering is (Numbering.PER_SECTION if restarts else Numbering.CONTINUOUS)
    for sentence in CONTENT_WITH_NOISE:
        assert plan.text.count(sentence) == sum(t.body.count(sentence) for t in parsed.tasks) + parsed.preamble.count(
            sentence
        )
