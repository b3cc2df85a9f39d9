"""Property tests of the parser: arbitrary text fails only with PlanParseError, and generated plans (sections
with Chinese numerals, tasks with sentences and unit lists, half- and full-width punctuation) survive
rendering and re-parsing with their numbers, titles, bodies and units intact."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.errors import PlanParseError
from index.model import Role
from index.normalize import to_cn_numeral
from index.parse import parse_plan, render_plan

# Fixed examples and a derandomised search: CI runs the same cases every time.
PROPS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# Common plan characters, without those of the page-furniture words the parser drops (二维码, 公众号, 扫一扫,
# 长按识别, 关注我们, 责任编辑, 打印本页, 关闭窗口, 分享到) and without Chinese numerals (a line starting "一、"
# is a section heading).
HANZI = "教育学校工作推进建设发展质量体系课程教师学生服务管理制度改革全面加强深化落实党的思想政治安全健康体育美劳动"
SENTENCE_MIDDLE = st.text(HANZI + "，,、“”《》%", min_size=0, max_size=20)
SENTENCE = st.builds(
    lambda head, middle, end: head + middle + end,
    st.sampled_from(HANZI),
    SENTENCE_MIDDLE,
    st.sampled_from("。！？!?"),
)
UNIT = st.one_of(
    st.builds(
        lambda s, tail: s + tail,
        st.text(HANZI, min_size=1, max_size=6),
        st.sampled_from(["科", "办", "中心"]),
    ),
    st.sampled_from(["各县(市、区)教育局", "各县（市、区）教育局", "市直学校", "基教科等机关各科室"]),
)
GROUP = st.lists(UNIT, min_size=1, max_size=4)


@dataclass(frozen=True)
class TaskSpec:
    number: int
    sentences: list[str]
    groups: list[list[str]]  # unit groups: the bureau's departments, then local units; [] for no note
    style: tuple[str, str, str, str, str]  # digits, number separator, brackets, colon, group separator


@dataclass(frozen=True)
class PlanSpec:
    sections: list[tuple[int, str, list[TaskSpec]]]  # number, title, tasks


def _digits(n: int, full_width: bool) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in str(n)) if full_width else str(n)


def render_task(t: TaskSpec) -> str:
    digits, sep, brackets, colon, group_sep = t.style
    line = f"{_digits(t.number, digits == 'full')}{sep}{''.join(t.sentences)}"
    if t.groups:
        listed = group_sep.join("、".join(g) for g in t.groups)
        line += f"{brackets[0]}责任单位{colon}{listed}{brackets[1]}"
    return line


def render_spec(spec: PlanSpec) -> str:
    lines = ["某市教育局工作要点", "为做好今年教育工作，特制定本要点。"]
    for number, title, tasks in spec.sections:
        lines.append(f"{to_cn_numeral(number)}、{title}")
        lines += [render_task(t) for t in tasks]
    return "\n".join(lines)


@st.composite
def plan_specs(draw: st.DrawFn) -> PlanSpec:
    n_sections = draw(st.integers(1, 4))
    section_numbers = sorted(draw(st.sets(st.integers(1, 15), min_size=n_sections, max_size=n_sections)))
    n_tasks = draw(st.integers(n_sections, 3 * n_sections))
    task_numbers = sorted(draw(st.sets(st.integers(1, 60), min_size=n_tasks, max_size=n_tasks)))
    style = st.tuples(
        st.sampled_from(["half", "full"]),
        st.sampled_from([".", "．", "、"]),
        st.sampled_from(["()", "（）", "(）", "（)"]),
        st.sampled_from([":", "："]),
        st.sampled_from([",", "，", ";", "；"]),
    )
    tasks = [
        TaskSpec(
            number=n,
            sentences=draw(st.lists(SENTENCE, min_size=1, max_size=4)),
            groups=draw(st.one_of(st.just([]), st.lists(GROUP, min_size=1, max_size=2))),
            style=draw(style),
        )
        for n in task_numbers
    ]
    # Every section gets at least one task, in order.
    cuts = (
        sorted(draw(st.sets(st.integers(1, n_tasks - 1), min_size=n_sections - 1, max_size=n_sections - 1)))
        if n_sections > 1
        else []
    )
    bounds = [0, *cuts, n_tasks]
    sections = [
        (section_numbers[i], draw(st.text(HANZI, min_size=2, max_size=15)), tasks[bounds[i] : bounds[i + 1]])
        for i in range(n_sections)
    ]
    return PlanSpec(sections=sections)


@PROPS
@given(st.text(max_size=2000))
def test_arbitrary_text_raises_only_the_parse_error(text: str) -> None:
    try:
        plan = parse_plan(text)
    except PlanParseError:
        return
    assert plan.tasks  # a plan, when one comes back, has tasks


# Pieces of plan lines (numbers, numerals, notes, noise words, invisible characters), mixed with any text.
PLANLIKE_PIECES = "1. １２． 3、 0. 999. 一、 十二、 零、 千千千千．".split()
PLANLIKE_PIECES += "(责任单位: （责任单位： （牵头单位: ) ） 。 、 , 二维码 摘要 … 1.5亿".split()
PLANLIKE_PIECES += ["\t", "\ufeff", "\u200b", " "]
PLANLIKE_LINE = st.lists(
    st.one_of(
        st.sampled_from(PLANLIKE_PIECES),
        st.text(max_size=8),
    ),
    max_size=12,
).map("".join)


@PROPS
@given(st.lists(PLANLIKE_LINE, max_size=30).map("\n".join))
def test_plan_like_text_raises_only_the_parse_error(text: str) -> None:
    try:
        plan = parse_plan(text)
    except PlanParseError:
        return
    refs, keys = [t.ref for t in plan.tasks], [t.key for t in plan.tasks]
    assert len(refs) == len(set(refs)) and len(keys) == len(set(keys))
    assert all(plan.section_of(t) for t in plan.tasks)
    assert all(plan.task(t.key) == t and plan.by_ref(t.ref) == t for t in plan.tasks)


@PROPS
@given(plan_specs())
def test_generated_plans_parse_to_their_tasks_and_units(spec: PlanSpec) -> None:
    plan = parse_plan(render_spec(spec))
    assert plan.title == "某市教育局工作要点"
    assert [(s.number, s.title) for s in plan.sections] == [(n, title) for n, title, _ in spec.sections]
    for (number, _, tasks), section in zip(spec.sections, plan.sections, strict=True):
        assert [t.number for t in section.tasks] == [t.number for t in tasks]
        for want, got in zip(tasks, section.tasks, strict=True):
            assert got.section == number
            assert got.body == "".join(want.sentences)
            assert got.sentences == tuple(want.sentences)
            assert got.title == want.sentences[0].rstrip("。！？!?")
            lead, support, local = expected_roles(want.groups)
            assert got.with_role(Role.LEAD) == lead and got.with_role(Role.SUPPORT) == support
            assert got.with_role(Role.LOCAL) == local
            assert got.units == lead + support + local and got.bureau_units == len(lead) + len(support)
    all_numbers = {t.number for _, _, tasks in spec.sections for t in tasks}
    assert set(plan.missing_tasks) == set(range(1, max(all_numbers))) - all_numbers


def expected_roles(groups: list[list[str]]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The README's rule for a 责任单位 list: the first unit of the first group leads, the rest of it supports,
    later groups and any collective unit (各…) are local; a unit listed twice keeps its first part."""
    lead: list[str] = []
    support: list[str] = []
    local: list[str] = []
    seen: set[str] = set()
    for g, group in enumerate(groups):
        for u, unit in enumerate(group):
            if unit in seen:
                continue
            seen.add(unit)
            if g > 0 or unit.startswith("各"):
                local.append(unit)
            elif u == 0:
                lead.append(unit)
            else:
                support.append(unit)
    return tuple(lead), tuple(support), tuple(local)


@PROPS
@given(plan_specs())
def test_render_then_parse_keeps_the_plan(spec: PlanSpec) -> None:
    plan = parse_plan(render_spec(spec))
    again = parse_plan(render_plan(plan))
    assert again.title == plan.title
    assert again.preamble == plan.preamble
    assert again.sections == plan.sections  # numbers, titles, bodies, sentences, units, notes verbatim
    assert again.missing_tasks == plan.missing_tasks
    assert again.missing_sections == plan.missing_sections


def test_render_then_parse_keeps_the_bundled_plan(plan) -> None:
    again = parse_plan(render_plan(plan))
    assert (again.title, again.preamble, again.sections) == (plan.title, plan.preamble, plan.sections)
