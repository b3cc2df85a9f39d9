"""Answer composition: from an analysed question to a cited, verbatim answer.

Every fact in an answer comes from the parsed plan: units and task numbers from its structure, excerpts
quoted from its sentences. When the evidence is too weak the answer says the plan does not cover it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from index.model import Plan, Task, TaskHit
from index.normalize import normalize, to_cn_numeral
from index.store import PlanIndex
from index.units import collective_tasks, tasks_of, unit_names
from rag.gate import GATE_MODEL, Assessment, Term, assess, covered, decide, load_gate_model, soft_coverage
from rag.lexicon import DEFAULT_DOMAINS, load_lexicon
from rag.limits import MAX_SUGGESTIONS, TOP_K
from rag.query import analyze
from rag.retrieve import RetrievalConfig
from rag.roundup import roundup_tasks
from rag.types import Answer, Citation, Decision, Evidence, Intent, Language, Query, Suggestion


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
    if query.intent is Intent.SECTION:
        return _section_answer(index.plan, query)
    if query.intent is Intent.REVERSE:
        return _reverse_answer(index.plan, query)
    if query.intent is Intent.ROUNDUP:
        return _roundup_answer(index, query, config, top_k)
    return _retrieved_answer(index, query, config, top_k)


def citation(plan: Plan, task: Task, excerpt: str, score: float = 1.0) -> Citation:
    section = plan.section_of(task)
    section_label = f"{section.numeral}、{section.title}" if section.numeral else section.title
    return Citation(
        task=task.number,
        section=section_label,
        title=task.title,
        excerpt=excerpt,
        units=task.units,
        lead_unit=task.lead_unit,
        score=round(float(score), 4),
    )


def units_phrase(task: Task) -> str:
    """``体卫艺科（牵头）、教育评估监测中心、基教科；各县区教育行政部门、市直学校``."""
    if not task.units:
        return "（计划未列出责任单位）"
    bureau = list(task.units[: task.bureau_units]) or list(task.units[:1])
    local = list(task.units[len(bureau) :])
    bureau[0] = f"{bureau[0]}（牵头）"
    return "、".join(bureau) + ("；" + "、".join(local) if local else "")


def lead_answer(plan: Plan, task: Task, question: str) -> Answer:
    """Who leads ``task``, from its 责任单位 note."""
    if not task.units:
        text = f"第{task.number}项“{task.title}”在计划中未列出责任单位。"
        return Answer(question, text, False, Intent.WHO, (citation(plan, task, task.title),))
    text = f"第{task.number}项“{task.title}”的牵头单位是{task.lead_unit}。\n责任单位：{units_phrase(task)}。"
    return Answer(question, text, True, Intent.WHO, (citation(plan, task, f"（{task.units_note}）"),))


def original_answer(plan: Plan, task: Task, question: str) -> Answer:
    """The whole task as written in the plan."""
    section = plan.section_of(task)
    text = f"第{task.number}项原文（{section.numeral}、{section.title}）：\n{task.text}"
    return Answer(question, text, True, Intent.TASK, (citation(plan, task, task.body),))


def _task_answer(plan: Plan, query: Query) -> Answer:
    number = query.task_number or 0
    task = plan.task(number)
    if task is None:
        return Answer(query.text, f"本计划没有第{number}项任务。{_numbering(plan)}", False, Intent.TASK)
    section = plan.section_of(task)
    text = f"第{task.number}项（{section.numeral}、{section.title}）：{task.title}。\n责任单位：{units_phrase(task)}"
    return Answer(query.text, text, True, Intent.TASK, (citation(plan, task, task.body),))


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
            role = "牵头" if a.lead else "配合"
            lines.append(f"第{a.task.number}项 {a.task.title}（{role}）")
            if all(c.task != a.task.number for c in cites):
                cites.append(citation(plan, a.task, a.task.title))
        named = {a.task.number for a in assignments}
        for task, token in collective_tasks(plan):
            if task.number not in named and unit in task.units[: task.bureau_units] + tuple(unit_names(plan)):
                lines.append(f"另：第{task.number}项 {task.title} 由“{token}”共同负责。")
    return Answer(query.text, "\n".join(lines), bool(cites), Intent.REVERSE, tuple(cites))


def _roundup_answer(index: PlanIndex, query: Query, config: AnswerConfig, top_k: int) -> Answer:
    """Every task on the question's topic, each with its lead unit, best first; a topic no task names is asked
    as an ordinary question (through the gate)."""
    plan = index.plan
    found = roundup_tasks(plan, query, index.tokenizer, load_lexicon(config.lexicons))
    if not found:
        return _retrieved_answer(index, replace(query, intent=Intent.FACT), config, top_k)
    about = f"「{query.topic}」" if len(query.topic) <= 20 and query.language is Language.ZH else "这方面"
    lines = [f"与{about}有关的任务共{len(found)}项："]
    lines += [f"第{t.task.number}项 {t.task.title}（{t.task.lead_unit or '未列责任单位'}牵头）" for t in found]
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
    terms = assessed.terms
    top = assessed.hits[0]
    task = _task(plan, top)
    excerpt = _excerpt(top, terms)
    cites = [citation(plan, task, excerpt, top.score)]
    for hit in _also_relevant(plan, assessed)[: top_k - 1]:
        cites.append(citation(plan, _task(plan, hit), _excerpt(hit, terms), hit.score))

    if query.intent is Intent.WHO:
        plain = query.language is Language.ZH and query.topic and len(query.topic) <= 20
        head = f"「{query.topic}」" if plain else "此项工作"
        text = f"{head}见第{task.number}项“{task.title}”，责任单位：{units_phrase(task)}。\n原文：{excerpt}"
        if len(cites) > 1:
            text += "\n另见：" + "；".join(f"第{c.task}项（{c.lead_unit or '未列责任单位'}牵头）" for c in cites[1:])
    else:
        text = f"第{task.number}项“{task.title}”：{excerpt}"
    return Answer(query.text, text, True, query.intent, tuple(cites), evidence=evidence)


def _also_relevant(plan: Plan, assessed: Assessment) -> list[TaskHit]:
    """Further tasks worth citing: each says everything of the question that the best task says, and as much.

    "谁负责近视防控?" is answered by task 8 (近视, 防控); tasks 30 and 31 share only 防控, a generic word, so a
    teacher would not see why they are cited.
    """
    terms = assessed.terms
    top_text = normalize(_task(plan, assessed.hits[0]).text)
    focus, best = covered(terms, top_text), soft_coverage(terms, top_text)
    if not focus:
        return []
    out = []
    for hit in assessed.hits[1:]:
        text = normalize(_task(plan, hit).text)
        if covered(terms, text) >= focus and soft_coverage(terms, text) >= best:
            out.append(hit)
    return out


def _suggestions(plan: Plan, assessed: Assessment) -> tuple[Suggestion, ...]:
    """Tasks close to a question the gate refused: among the best retrieved, those that say at least one of
    its words (through the lexicon). Offered as "相关的可能是", never as the answer."""
    out: list[Suggestion] = []
    for hit in assessed.hits[:MAX_SUGGESTIONS]:
        task = _task(plan, hit)
        if covered(assessed.terms, normalize(task.text)):
            out.append(Suggestion(task.number, task.title, task.lead_unit))
    return tuple(out)


def _excerpt(hit: TaskHit, terms: tuple[Term, ...]) -> str:
    """The task's sentence that best matches the question, verbatim; a second one only if it adds words.

    Sentences are ranked by how many of the question's words they say (through the lexicon), then by retrieval
    score.
    """
    ranked = sorted(hit.hits, key=lambda h: (-soft_coverage(terms, normalize(h.text)), -h.score))
    chosen = [ranked[0]]
    first = normalize(ranked[0].text)
    missing = [t for t in terms if not t.found_in(first)]
    for h in ranked[1:]:
        if missing and any(t.found_in(normalize(h.text)) for t in missing):
            chosen.append(h)
            break
    return "".join(h.text for h in sorted(chosen, key=lambda h: h.sentence))


def _not_covered(
    plan: Plan, query: Query, evidence: Evidence | None = None, suggestions: tuple[Suggestion, ...] = ()
) -> Answer:
    plain = query.language is Language.ZH and query.topic and len(query.topic) <= 20
    about = f"“{query.topic}”" if plain else "这个问题"
    name = f"《{plan.title}》" if plan.title else "本工作计划"
    if suggestions:
        close = "；".join(f"第{s.task}项“{s.title}”（{s.lead_unit or '未列责任单位'}牵头）" for s in suggestions)
        text = f"抱歉，{name}中没有写明{about}。相关的可能是：{close}。"
    else:
        text = f"抱歉，{name}中没有关于{about}的内容，无法回答。可以问计划中的任务和责任单位，例如“谁负责近视防控？”。"
    return Answer(query.text, text, False, Intent.OUT_OF_SCOPE, evidence=evidence, suggestions=suggestions)


def _numbering(plan: Plan) -> str:
    """``计划中的任务编号为第1–17、23–31项（缺第18–22项）。`` — from the parsed numbers and gaps."""
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


def _task(plan: Plan, hit: TaskHit) -> Task:
    task = plan.task(hit.task)
    assert task is not None, f"the index names task {hit.task}, which the plan lacks"
    return task
