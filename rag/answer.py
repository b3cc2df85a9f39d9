"""Answer composition: from an analysed question to a cited, verbatim answer.

Every fact in an answer comes from the parsed plan: units and task numbers from its structure, excerpts
quoted from its sentences. When the evidence is too weak the answer says the plan does not cover it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.model import Hit, Numbering, Plan, Role, Section, Task, TaskHit
from index.normalize import normalize, to_cn_numeral
from index.store import PlanIndex
from index.units import collective_tasks, tasks_of, unit_names
from rag.gate import (
    GATE_MODEL,
    Assessment,
    asked_details,
    assess,
    covered,
    decide,
    indexed_task,
    load_gate_model,
    soft_coverage,
    states,
)
from rag.lexicon import DEFAULT_DOMAINS, load_lexicon
from rag.limits import MAX_SUGGESTIONS, TOP_K
from rag.present import quoted
from rag.query import analyze, asked_tasks
from rag.retrieve import RetrievalConfig
from rag.roundup import roundup_tasks
from rag.types import Answer, Citation, Decision, Evidence, Intent, Language, Query, Suggestion

# A secondary citation must stand this many standard deviations above the plan's sentences in dense similarity
# (dev: citation precision 0.87 → 0.95, "谁负责劳动教育?" still cites tasks 8 and 7).
SECONDARY_MIN_Z = 3.0
# The words of "…的责任领导是谁?" that ask for the leader: left out when finding the task.
_ASKS_LEADER_WORDS = re.compile(r"(?:的)?(?:责任|分管|牵头|主管)?领导(?:是谁|是哪位|有谁|是)?")


@dataclass(frozen=True)
class AnswerConfig:
    top_k: int = TOP_K  # citations for who/fact answers
    lexicons: tuple[str, ...] = DEFAULT_DOMAINS  # lexicons/<domain>.txt: what people say → the plan's terms
    gate_model: Path = GATE_MODEL  # the answer gate's fitted coefficients and operating point (rag/gate.py)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)


def answer(index: PlanIndex, question: str, config: AnswerConfig | None = None, top_k: int | None = None) -> Answer:
    """Answer the standalone ``question`` (already validated) from the plan in ``index``."""
    config = config or AnswerConfig()
    top_k = top_k or config.top_k
    query = analyze(question, index.plan, load_lexicon(config.lexicons))
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
    if query.intent is Intent.ROUNDUP:
        return _roundup_answer(index, query, config, top_k)
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
    if not query.units and query.counterparts:
        return _counterpart_answer(plan, query)
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


def _counterpart_answer(plan: Plan, query: Query) -> Answer:
    """A unit the plan does not list, named by the name another city or year gives the office the plan calls
    otherwise: said plainly, and the plan's office and its tasks offered, not claimed."""
    units = "、".join(query.counterparts)
    offered = tuple(dict.fromkeys(Suggestion.of(a.task) for unit in query.counterparts for a in tasks_of(plan, unit)))
    text = f"计划中没有“{query.unknown_unit}”，计划里做这方面工作的可能是名称不同的{units}。"
    if offered:
        text += f"相关的可能是：{_offered(offered)}。"
    return Answer(query.text, text, False, Intent.REVERSE, suggestions=offered)


def _roundup_answer(index: PlanIndex, query: Query, config: AnswerConfig, top_k: int) -> Answer:
    """Every task on the question's topic, each with its lead unit, best first; a topic no task names is asked
    as an ordinary question (through the gate)."""
    plan = index.plan
    found = roundup_tasks(plan, query, index.tokenizer, load_lexicon(config.lexicons))
    if not found:
        return _retrieved_answer(index, replace(query, intent=Intent.FACT), config, top_k)
    about = f"「{query.topic}」" if len(query.topic) <= 20 and query.language is Language.ZH else "这方面"
    lines = [f"与{about}有关的任务共{len(found)}项："]
    lines += [f"{t.task.label} {t.task.title}（{t.task.lead_unit or '未列责任单位'}牵头）" for t in found]
    cites = tuple(citation(plan, t.task, t.excerpt) for t in found)
    return Answer(query.text, "\n".join(lines), True, Intent.ROUNDUP, cites)


def _retrieved_answer(index: PlanIndex, query: Query, config: AnswerConfig, top_k: int) -> Answer:
    plan = index.plan
    assessed = assess(index, query, load_lexicon(config.lexicons), config.retrieval)
    if assessed.signals is None:
        return _not_covered(plan, query)
    evidence = decide(assessed.signals, load_gate_model(config.gate_model), query.normalized)
    if evidence.decision is Decision.REFUSE:
        return _not_covered(plan, query, evidence, _suggestions(plan, assessed))
    top = assessed.hits[0]
    task = _task(plan, top)
    excerpt = _task_excerpt(task, top, assessed, query)
    cites = [citation(plan, task, excerpt, top.score)]
    for hit in _also_relevant(plan, assessed, close_only=top_k <= config.top_k)[: top_k - 1]:
        cites.append(citation(plan, _task(plan, hit), _excerpt(hit, assessed, query), hit.score))

    if query.intent is Intent.WHO and not task.units:
        return _no_units_answer(plan, task, query.text)
    if query.intent is Intent.WHO:
        head = f"「{query.topic}」" if _quotable(query) else "此项工作"
        text = f"{head}见{task.label}“{task.title}”，责任单位：{units_phrase(task)}。\n原文：{excerpt}"
        text = _role_line(task, query) + text
        if len(cites) > 1:
            text += "\n另见：" + "；".join(f"{c.label}（{c.lead_unit or '未列责任单位'}牵头）" for c in cites[1:])
    else:
        text = f"{task.label}“{task.title}”：{excerpt}"
    return Answer(query.text, text, True, query.intent, tuple(cites), evidence=evidence)


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


def _also_relevant(plan: Plan, assessed: Assessment, close_only: bool = True) -> list[TaskHit]:
    """Further tasks worth citing: each says everything of the question that the best task says, and as much,
    and (``close_only``) is itself close to the question in meaning: its dense similarity ``SECONDARY_MIN_Z``
    standard deviations above the plan's sentences (measured on dev: a shared word alone cites a task a teacher
    sees no point in). When more citations than the default are asked for ("还有哪些?", a larger ``top_k``), the
    shared words suffice.

    "谁负责近视防控?" is answered by task 8 (近视, 防控); tasks 30 and 31 share only 防控, a generic word, so a
    teacher would not see why they are cited. "谁负责劳动教育?": tasks 8 and 7 both say it and both stand out.
    """
    terms = assessed.terms
    top_text = normalize(_task(plan, assessed.hits[0]).text)
    focus, best = covered(terms, top_text), soft_coverage(terms, top_text)
    if not focus:
        return []
    out = []
    for hit in assessed.hits[1:]:
        text = normalize(_task(plan, hit).text)
        close = not close_only or assessed.retrieval.dense_z(hit.similarity) >= SECONDARY_MIN_Z
        if close and covered(terms, text) >= focus and soft_coverage(terms, text) >= best:
            out.append(hit)
    return out


def _suggestions(plan: Plan, assessed: Assessment) -> tuple[Suggestion, ...]:
    """Tasks close to a question the gate refused: among the best retrieved, those that say at least one of
    its words (through the lexicon). Offered as "相关的可能是", never as the answer."""
    out: list[Suggestion] = []
    for hit in assessed.hits[:MAX_SUGGESTIONS]:
        task = _task(plan, hit)
        if covered(assessed.terms, normalize(task.text)):
            out.append(Suggestion.of(task))
    return tuple(out)


def _task_excerpt(task: Task, hit: TaskHit, assessed: Assessment, query: Query) -> str:
    """What a fact answer quotes: the whole task when the question is about the task itself (every word of it
    in the task's title: "怎么丰富青少年体育活动?" asks for the measures of "丰富青少年体育活动"), else the
    sentences that match it best."""
    title = normalize(task.title)
    terms = assessed.terms
    if query.intent is Intent.FACT and terms and all(t.found_in(title) for t in terms):
        return "".join(task.sentences[1:]) or task.body  # the title is named already
    return _excerpt(hit, assessed, query)


def _excerpt(hit: TaskHit, assessed: Assessment, query: Query) -> str:
    """The task's sentence that best matches the question, verbatim; a second one only if it adds words.

    Sentences are ranked by how many of the question's words they say (through the lexicon), then by whether
    they state the detail asked (a number for 多少 / what share, a date for 什么时候), then by closeness in meaning
    (the dense cosine: on dev it picks the sentence an English question asks about better than the fused score).
    """
    terms = assessed.terms
    asked = asked_details(query.normalized, query.intent)

    def rank(h: Hit) -> tuple[float, int, float]:
        text = normalize(h.text)
        return (-soft_coverage(terms, text), -states(asked, text), -assessed.retrieval.similarity(h))

    ranked = sorted(hit.hits, key=rank)
    chosen = [ranked[0]]
    first = normalize(ranked[0].text)
    missing = [t for t in terms if not t.found_in(first)]
    for h in ranked[1:]:
        if missing and any(t.found_in(normalize(h.text)) for t in missing):
            chosen.append(h)
            break
    return "".join(h.text for h in sorted(chosen, key=lambda h: h.sentence))


def _quotable(query: Query) -> bool:
    """Whether an answer may quote the question's topic back: a short Chinese phrase. Words left over around the
    asking ("孩子近视越来越多 教育局 管这事") read clumsily quoted, so a topic in pieces is not."""
    return query.language is Language.ZH and 0 < len(query.topic) <= 20 and " " not in query.topic


def _not_covered(
    plan: Plan, query: Query, evidence: Evidence | None = None, suggestions: tuple[Suggestion, ...] = ()
) -> Answer:
    about = quoted(query.topic) if _quotable(query) else "这个问题"
    name = f"《{plan.title}》" if plan.title else "本工作计划"
    if suggestions:
        text = f"抱歉，{name}中没有写明{about}。相关的可能是：{_offered(suggestions)}。"
    else:
        text = f"抱歉，{name}中没有关于{about}的内容，无法回答。可以问计划中的任务和责任单位，例如“谁负责近视防控？”。"
    return Answer(query.text, text, False, Intent.OUT_OF_SCOPE, evidence=evidence, suggestions=suggestions)


def _offered(suggestions: tuple[Suggestion, ...]) -> str:
    """Tasks offered, not claimed: 第8项“…”（体卫艺科牵头）；第12项“…”（基教科牵头）."""
    return "；".join(f"{s.label}“{s.title}”（{s.lead_unit or '未列责任单位'}牵头）" for s in suggestions)


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
    return indexed_task(plan, hit.task)
