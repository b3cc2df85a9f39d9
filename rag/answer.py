"""Answer composition: from an analysed question to a cited, verbatim answer.

Every fact in an answer comes from the parsed plan: units and task numbers from its structure, excerpts
quoted from its sentences. When the evidence is too weak the answer says the plan does not cover it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from index.model import Numbering, Plan, Role, Section, Task, TaskHit
from index.normalize import normalize, to_cn_numeral
from index.store import PlanIndex
from index.units import collective_tasks, tasks_of, unit_names
from rag.limits import TOP_K
from rag.query import analyze, asked_tasks
from rag.retrieve import RetrievalConfig, coverage, search
from rag.types import Answer, Citation, Intent, Query

# Interrogatives jieba keeps whole ("第几", "几个", "第几届", "多少钱"): they ask, they are not what is asked about,
# so they must not count against the plan's coverage of the question ("普法工作是第几个五年普法?").
_ASKING = re.compile(r"^(?:第?几|多少)")
# Asking for a quantity: 多少 / 几个 / 几所 / 比例 / 百分之几 / how many.
_QUANTITY = re.compile(
    r"多少|(?<!第)几(?:个|所|项|名|届|年|次|期|倍|天|位|家|成|类|批|万|千|百)|百分之几|\bhow (?:many|much)\b",
    re.I,
)
# A number as plans write them: digits (1%, 50%, 100周年) or Chinese numerals with a measure word (第三期, 十项).
_NUMBER = re.compile(r"[0-9]|[一二两三四五六七八九十百千万]+(?:个|所|项|名|届|年|次|期|倍|天|位|家|成|类|批|%)")
# The words of "…的责任领导是谁?" that ask for the leader: left out when finding the task.
_ASKS_LEADER_WORDS = re.compile(r"(?:的)?(?:责任|分管|牵头|主管)?领导(?:是谁|是哪位|有谁|是)?")
# Asking for a person: 局长是谁 / 校长叫什么 — plans assign work to units, never to named office-holders.
_PERSON = re.compile(r"(?:局长|校长|院长|主任|书记|科长|处长|老师|领导)(?:是谁|叫什么|是哪位)")


@dataclass(frozen=True)
class AnswerConfig:
    top_k: int = TOP_K  # citations for who/fact answers
    # Evidence needed to answer rather than say "not covered" (calibrated on eval/data dev questions):
    min_coverage: float = 0.5  # share of the question's content words found in the best task
    min_similarity: float = 0.86  # dense cosine, used when the question has no Chinese content words
    # Dense cosine that answers even with weak word overlap. On the dev split the best task of an unanswerable
    # question reaches 0.916 (萍乡学院有几个专业?), while no answerable one needs the bypass below 0.93.
    strong_similarity: float = 0.93
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)


def answer(index: PlanIndex, question: str, config: AnswerConfig | None = None, top_k: int | None = None) -> Answer:
    """Answer the standalone ``question`` (already validated) from the plan in ``index``."""
    config = config or AnswerConfig()
    top_k = top_k or config.top_k
    query = analyze(question, index.plan)
    if query.intent is Intent.TASK:
        return _task_answer(index.plan, query)
    if query.intent is Intent.SECTION and query.subsection is not None:
        return _subsection_answer(index.plan, query)
    if query.intent is Intent.SECTION:
        return _section_answer(index.plan, query)
    if query.leaders and any(t.leaders for t in index.plan.tasks):
        return _leaders_answer(index, query, config, top_k)
    if query.intent is Intent.REVERSE:
        return _reverse_answer(index.plan, query)
    return _retrieved_answer(index, query, config, top_k)


def citation(plan: Plan, task: Task, excerpt: str, score: float = 1.0) -> Citation:
    section = plan.section_of(task)
    section_label = f"{section.numeral}、{section.title}" if section.numeral else section.title
    return Citation(
        task=task.key,
        section=section_label,
        title=task.title,
        excerpt=excerpt,
        units=task.units,
        lead_unit=task.lead_unit,
        score=round(float(score), 4),
        ref=task.ref,
        label=task.label,
    )


def units_phrase(task: Task) -> str:
    """``体卫艺科（牵头）、教育评估监测中心、基教科；各县区教育行政部门、市直学校`` (each lead marked, when a
    note names several)."""
    if not task.units:
        return "（计划未列出责任单位）"
    bureau = list(task.units[: task.bureau_units]) or list(task.units[:1])
    local = list(task.units[len(bureau) :])
    leads = set(task.leads) or {bureau[0]}
    bureau = [f"{u}（牵头）" if u in leads else u for u in bureau]
    return "、".join(bureau) + ("；" + "、".join(local) if local else "")


def lead_answer(plan: Plan, task: Task, question: str) -> Answer:
    """Who leads ``task``, from its note."""
    if not task.units:
        return _no_units_answer(plan, task, question)
    leads = "、".join(task.leads) or task.lead_unit
    text = f"{task.label}“{task.title}”的牵头单位是{leads}。\n责任单位：{units_phrase(task)}。"
    return Answer(question, text, True, Intent.WHO, (citation(plan, task, f"（{task.units_note}）"),))


def original_answer(plan: Plan, task: Task, question: str) -> Answer:
    """The whole task as written in the plan."""
    section = plan.section_of(task)
    text = f"{task.label}原文（{section.numeral}、{section.title}）：\n{task.text}"
    return Answer(question, text, True, Intent.TASK, (citation(plan, task, task.body),))


def _task_answer(plan: Plan, query: Query) -> Answer:
    tasks = asked_tasks(plan, query)
    if len(tasks) != 1:
        return _task_list_answer(plan, query, tasks)
    task = tasks[0]
    section = plan.section_of(task)
    text = f"{task.label}（{section.numeral}、{section.title}）：{task.title}。\n责任单位：{units_phrase(task)}"
    return Answer(query.text, text, True, Intent.TASK, (citation(plan, task, task.body),))


def _task_list_answer(plan: Plan, query: Query, tasks: tuple[Task, ...]) -> Answer:
    """No task by that number (say which numbers the plan has), or several: a plan numbered per section has a
    第2项 in each section."""
    number = query.task_number or 0
    if not tasks:
        where = (
            f"第{to_cn_numeral(query.section_number)}部分"
            if query.section_number and query.section_number < 100
            else ""
        )
        return Answer(query.text, f"本计划{where}没有第{number}项任务。{_numbering(plan)}", False, Intent.TASK)
    lines = [f"计划按部分编号，有{len(tasks)}项“第{number}项”："]
    lines += [f"{t.label}：{t.title}（{t.lead_unit or '未列责任单位'}牵头）" for t in tasks]
    return Answer(query.text, "\n".join(lines), True, Intent.TASK, tuple(citation(plan, t, t.title) for t in tasks))


def _section_answer(plan: Plan, query: Query) -> Answer:
    number = query.section_number or 0
    section = plan.section(number)
    if section is None or number == 0:
        present = "、".join(s.numeral for s in plan.sections if s.numeral)
        missing = "、".join(to_cn_numeral(n) for n in plan.missing_sections)
        gap = f"（计划中缺第{missing}部分）" if missing else ""
        text = f"本计划没有第{to_cn_numeral(number) if number < 100 else number}部分。计划的部分为：{present}{gap}。"
        return Answer(query.text, text, False, Intent.SECTION)
    lines = [f"第{section.numeral}部分：{section.title}。共{len(section.tasks)}项任务："]
    lines += [f"{t.number}. {t.title}（{t.lead_unit or '未列责任单位'}牵头）" for t in section.tasks]
    cites = tuple(citation(plan, t, t.title) for t in section.tasks)
    return Answer(query.text, "\n".join(lines), True, Intent.SECTION, cites)


def _subsection_answer(plan: Plan, query: Query) -> Answer:
    """The tasks under a sub-section heading: "（一）产业提升人才行动计划" → its 8 projects."""
    section = plan.section(query.section_number or 0)
    heading = next((x for x in section.subsections if x.number == query.subsection), None) if section else None
    if section is None or heading is None:
        return _section_answer(plan, query)
    tasks = section.subsection_tasks(heading.number)
    lines = [f"{_section_name(section)}（{heading.numeral}）{heading.title}：共{len(tasks)}项任务："]
    lines += [f"{t.label} {t.title}（{t.lead_unit or '未列责任单位'}牵头）" for t in tasks]
    cites = tuple(citation(plan, t, t.title) for t in tasks)
    return Answer(query.text, "\n".join(lines), bool(tasks), Intent.SECTION, cites)


def _section_name(section: Section) -> str:
    return f"第{section.numeral}部分“{section.title}”" if section.numeral else ""


def _reverse_answer(plan: Plan, query: Query) -> Answer:
    if not query.units:
        known = "、".join(unit_names(plan))
        text = f"计划中没有“{query.unknown_unit}”。计划列出的责任单位有：{known}。"
        return Answer(query.text, text, False, Intent.REVERSE)
    lines: list[str] = []
    cites: list[Citation] = []
    for unit in query.units:
        assignments = tasks_of(plan, unit)
        led = sum(a.lead for a in assignments)
        lines.append(f"{unit}参与{len(assignments)}项任务，其中牵头{led}项：")
        for a in assignments:
            lines.append(f"{a.task.label} {a.task.title}（{a.role.label}）")  # 牵头, 配合, or 落实 (各县区, 市直学校)
            if all(c.task != a.task.key for c in cites):
                cites.append(citation(plan, a.task, a.task.title))
        named = {a.task.key for a in assignments}
        for task, token in collective_tasks(plan):
            if task.key not in named and unit in task.units[: task.bureau_units] + tuple(unit_names(plan)):
                lines.append(f"另：{task.label} {task.title} 由“{token}”共同负责。")
    return Answer(query.text, "\n".join(lines), bool(cites), Intent.REVERSE, tuple(cites))


def _retrieved_answer(index: PlanIndex, query: Query, config: AnswerConfig, top_k: int) -> Answer:
    plan = index.plan
    hits = search(index, query.normalized, config.retrieval)
    terms = _content_words(index, query)
    ranked = [(h, coverage(terms, normalize(_task(plan, h).text))) for h in hits]
    if not ranked or not _supported(ranked[0], terms, query, _task(plan, ranked[0][0]), config):
        return _not_covered(plan, query)
    top, top_coverage = ranked[0]
    task = _task(plan, top)
    excerpt = _task_excerpt(task, top, terms, query)
    cites = [citation(plan, task, excerpt, top.score)]
    for hit, cov in ranked[1:]:
        if len(cites) >= top_k:
            break
        if cov >= config.min_coverage or not terms:
            cites.append(citation(plan, _task(plan, hit), _excerpt(hit, terms), hit.score))

    if query.intent is Intent.WHO and not task.units:
        return _no_units_answer(plan, task, query.text)
    if query.intent is Intent.WHO:
        head = f"「{query.topic}」" if query.topic and len(query.topic) <= 20 else "此项工作"
        text = f"{head}见{task.label}“{task.title}”，责任单位：{units_phrase(task)}。\n原文：{excerpt}"
        text = _role_line(task, query) + text
        also = [c for (h, cov), c in zip(ranked[1:], cites[1:], strict=False) if terms and cov >= top_coverage - 1e-9]
        if also:
            text += "\n另见：" + "；".join(f"{c.label}（{c.lead_unit or '未列责任单位'}牵头）" for c in also)
    else:
        text = f"{task.label}“{task.title}”：{excerpt}"
    return Answer(query.text, text, True, query.intent, tuple(cites))


def _role_line(task: Task, query: Query) -> str:
    """A first line answering "谁配合…" exactly: the supporting units (配合) of the task, or that it has none."""
    if query.role is not Role.SUPPORT:
        return ""
    support = task.with_role(Role.SUPPORT)
    if support:
        return f"{task.label}的配合单位：{'、'.join(support)}。\n"
    return f"{task.label}未列配合单位（牵头：{'、'.join(task.leads) or task.lead_unit}）。\n"


def _no_units_answer(plan: Plan, task: Task, question: str) -> Answer:
    """A task whose text names no unit: say so, citing it, rather than guess (found is False: the plan does
    not answer who)."""
    text = f"{task.label}“{task.title}”在计划中未列出责任单位。"
    return Answer(question, text, False, Intent.WHO, (citation(plan, task, task.title),))


def _leaders_answer(index: PlanIndex, query: Query, config: AnswerConfig, top_k: int) -> Answer:
    """ "…的责任领导是谁?": the 责任领导 of the task the question is about, from its note (plans that name them).
    The task is found as for any question, with the words that ask for the leader left out."""
    topic = _ASKS_LEADER_WORDS.sub(" ", query.topic or query.normalized).strip()
    normalized = _ASKS_LEADER_WORDS.sub(" ", query.normalized).strip()
    inner = Query(query.text, normalized, Intent.FACT, units=query.units, topic=topic)
    found = _retrieved_answer(index, inner, config, top_k)
    if not found.found or not found.citations:
        return replace(found, intent=Intent.WHO)
    task = _task(index.plan, found.citations[0])
    if not task.leaders:
        text = f"{task.label}“{task.title}”在计划中未列出责任领导。"
        return Answer(query.text, text, False, Intent.WHO, found.citations[:1])
    text = f"{task.label}“{task.title}”的责任领导：{'、'.join(task.leaders)}。\n责任单位：{units_phrase(task)}。"
    return Answer(query.text, text, True, Intent.WHO, (citation(index.plan, task, task.note),))


def _content_words(index: PlanIndex, query: Query) -> list[str]:
    """The words the plan must contain to answer: the topic's, without interrogatives, and without the names
    of units the question mentions when other words remain (naming 萍乡学院 does not make "萍乡学院有几个专业"
    a question the plan covers)."""
    topic = query.topic or query.normalized
    terms = _meaningful([t for t in index.tokenizer.phrases(topic) if not _ASKING.match(t)])
    if query.units:
        rest = topic
        for unit in query.units:
            rest = rest.replace(unit, " ")
        rest_terms = _meaningful([t for t in index.tokenizer.phrases(rest) if not _ASKING.match(t)])
        if rest_terms:
            return rest_terms
    return terms


def _meaningful(terms: list[str]) -> list[str]:
    """Single characters (放, 假, 率) match almost any long text by accident: count them only when the
    question has nothing longer."""
    longer = [t for t in terms if len(t) > 1]
    return longer or terms


def _supported(top: tuple[TaskHit, float], terms: list[str], query: Query, task: Task, config: AnswerConfig) -> bool:
    hit, cov = top
    if _PERSON.search(query.normalized):
        return False  # plans assign tasks to units; they name no office-holders
    if _QUANTITY.search(query.normalized) and not _has_number_near(task, terms):
        return False  # asks "how many": the plan only covers it where the matching text states a number
    if hit.similarity >= config.strong_similarity:
        return True
    if not terms:  # e.g. an English question: only the dense model can judge
        return hit.similarity >= config.min_similarity
    return cov >= config.min_coverage


def _has_number_near(task: Task, terms: list[str]) -> bool:
    """Does the sentence of ``task`` that best matches the question (or one tied with it) state a number?"""
    scored = [(coverage(terms, normalize(s)), normalize(s)) for s in task.sentences]
    best = max((c for c, _ in scored), default=0.0)
    return any(c == best and _NUMBER.search(text) for c, text in scored)


def _task_excerpt(task: Task, hit: TaskHit, terms: list[str], query: Query) -> str:
    """What a fact answer quotes: the whole task when the question is about the task itself (every word of it
    in the task's title: "怎么丰富青少年体育活动?" asks for the measures of "丰富青少年体育活动"), else the
    sentences that match it best."""
    if query.intent is Intent.FACT and terms and coverage(terms, normalize(task.title)) >= 1.0:
        return "".join(task.sentences[1:]) or task.body  # the title is named already
    return _excerpt(hit, terms)


def _excerpt(hit: TaskHit, terms: list[str]) -> str:
    """The task's sentence that best matches the question, verbatim; a second one only if it adds words.

    Sentences are ranked by how many of the question's words they contain, then by retrieval score.
    """
    ranked = sorted(hit.hits, key=lambda h: (-coverage(terms, normalize(h.text)), -h.score))
    chosen = [ranked[0]]
    missing = [t for t in terms if t not in normalize(ranked[0].text)]
    for h in ranked[1:]:
        if missing and any(t in normalize(h.text) for t in missing):
            chosen.append(h)
            break
    return "".join(h.text for h in sorted(chosen, key=lambda h: h.sentence))


def _not_covered(plan: Plan, query: Query) -> Answer:
    about = f"“{query.topic}”" if query.topic and len(query.topic) <= 20 else "这个问题"
    name = f"《{plan.title}》" if plan.title else "本工作计划"
    text = f"抱歉，{name}中没有关于{about}的内容，无法回答。可以问计划中的任务和责任单位，例如“谁负责近视防控？”。"
    return Answer(query.text, text, False, Intent.OUT_OF_SCOPE)


def _numbering(plan: Plan) -> str:
    """``计划中的任务编号为第1–17、23–31项（缺第18–22项）。`` — from the parsed numbers and gaps; for a plan
    numbered per section, each section's numbers: ``各部分的任务编号：第一部分第1–5项、…``."""
    if plan.numbering is Numbering.PER_SECTION:
        parts = [f"第{s.numeral}部分第{_ranges(tuple(t.number for t in s.tasks))}项" for s in plan.sections if s.tasks]
        return f"各部分的任务编号：{'、'.join(parts)}。"
    gaps = plan.missing_tasks
    gap_text = f"（缺第{_ranges(gaps)}项）" if gaps else ""
    return f"计划中的任务编号为第{_ranges(tuple(t.number for t in plan.tasks))}项{gap_text}。"


def _ranges(numbers: tuple[int, ...]) -> str:
    out: list[str] = []
    for n in numbers:
        if out and n == int(out[-1].split("–")[-1]) + 1:
            out[-1] = f"{out[-1].split('–')[0]}–{n}"
        else:
            out.append(str(n))
    return "、".join(out)


def _task(plan: Plan, hit: TaskHit | Citation) -> Task:
    task = plan.task(hit.task)
    assert task is not None, f"the index names task {hit.task}, which the plan lacks"
    return task
