"""The answer gate: answer from the best task, or say the plan does not state it — from combined evidence.

A single rule ("half of the question's words are in the task") refuses teachers who say 娃 for 学生 and English
questions, whose cosines sit near 0.80 whatever they ask. The gate weighs several signals instead (``Signals``):

- ``dense_z``: the best task's cosine in standard deviations above the mean over all the plan's sentences — a
  relative figure, so English and Chinese questions are judged on their own scale;
- ``dense_margin``: how far that stands above the next task;
- ``top_share``: the share of the ``TOP_SHARE_SENTENCES`` best sentences of the fused ranking that belong to the best
  task — whether the dense and keyword rankings agree on it, whatever words the lexicon knows;
- ``keyword_coverage``: the share of the question's content words found verbatim in the task;
- ``soft_coverage``: the same through the lexicon (a word counts when one of its plan terms is there: 托管 → 课后服务);
- ``latin_share``: the question's language;
- ``detail_missing``: it asks a number, date, person or place that the matching sentence does not state;
- ``year_missing``: it names a year the plan never mentions.

A logistic model over them, fitted on the dev split only (``python -m eval.gate_fit``), gives the probability that
answering is right; its coefficients and operating point are data (``rag/gate.json``), not code, and every answer
that needed retrieval carries them as ``Evidence``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from index.errors import PlanQAError
from index.keyword import WordTokenizer, char_bigrams
from index.model import Plan, Task, TaskHit
from index.normalize import normalize
from index.store import PlanIndex
from rag.lexicon import Lexicon
from rag.query import plan_text
from rag.retrieve import Retrieval, RetrievalConfig, coverage, retrieve
from rag.types import Decision, Evidence, Intent, Language, Query, Signals

GATE_MODEL = Path(__file__).with_name("gate.json")

# Interrogatives jieba keeps whole ("第几", "几个", "第几届", "多少钱", "哪几个"): they ask, they are not what is
# asked about, so they must not count against the plan's coverage of the question ("普法工作是第几个五年普法?").
ASKING = re.compile(r"^(?:第?几|多少|哪几|多久|多长)")
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")
_CJK_RUN_END = re.compile(r"[\u4e00-\u9fff]+$")
_CJK_RUN_START = re.compile(r"[\u4e00-\u9fff]+")
_YEAR = re.compile(r"(?<![0-9])(19[5-9][0-9]|20[0-9]{2})(?![0-9])")
# A number a teacher tells about their own case (七十多个, 六七十个, 15年): the plan cannot be asked to say it.
_TOLD_NUMBER = re.compile(r"^[0-9一二两三四五六七八九十百千万几多]+[个所项名届年次期倍天位家成类批%岁人节]?多?个?$")
# How often a word must occur in jieba's corpus of general Chinese to count as everyday (measured on dev, with
# 1000, 2000, 3000, 5000 and 8000: held-out gate accuracy is best at 2000–3000).
COMMON_WORD = 3000

# How many of the fused ranking's best sentences ``top_share`` looks at (a task has 3–12 sentences).
TOP_SHARE_SENTENCES = 10

# How deep ``saying_the_question_first`` looks for a task that says the question when the best one says none of it.
RUNNER_UP_DEPTH = 3

# What a question may ask for that a plan states only sometimes (numbers, dates) or never (people, places):
# (asked, stated). A question asking for one is covered only where the sentence that matches it states it.
# 几 asking a count: not 第几 (an ordinal), 多建几所 ("a few more") or 哪几个 (which ones).
_HOW_MANY = "(?<!第)(?<!多.)(?<!哪)几"
# Where a thing is: an address, a floor, a phone number (在哪几个区 / 在哪些学校 ask which ones: names).
_WHERE = r"在哪(?![几些])|几楼|地址|电话|联系方式|\bwhere\b|\bphone number\b"
_NUMBER = re.compile(r"[0-9]|[一二两三四五六七八九十百千万]+(?:个|所|项|名|届|年|次|期|倍|天|位|家|成|类|批|%)")
# What a proper name of a place or a body ends with: a list of names is two of them in a row (安源区、湘东区), not a
# list of kinds (示范区、示范基地).
_NAMED = "区|县|市|镇|乡|学校|中学|小学|幼儿园|学院|大学|医院"
_NAME_PART = "(?:(?![和与及等的])[\u4e00-\u9fff])"  # a character of one name: 和 / 及 join two
DETAILS: dict[str, tuple[re.Pattern[str], re.Pattern[str] | None]] = {
    # 多少 / 几个 / 几所 / 百分之几 / how many (not 多建几所, "a few more"; not 哪几个, which asks which ones)
    "quantity": (
        re.compile(
            rf"多少|{_HOW_MANY}(?:个|所|项|名|届|年|次|期|倍|天|位|家|成|类|批|万|千|百|节|分)|百分之几"
            r"|多久|多长时间|\bhow (?:many|much|long)\b|\bwhat (?:share|percentage|proportion|ratio)\b",
            re.I,
        ),
        _NUMBER,
    ),
    # 哪几家 / 哪几所 / 名单 — asks for the names of places or bodies; stated as a list of names (安源区、湘东区)
    "names": (
        re.compile(
            r"哪几(?:家|所|个|位)|名单|有哪些(?:人|学校|幼儿园|集团|单位|企业|医院)"
            r"|\bwhich (?:ones|schools|kindergartens)\b",
            re.I,
        ),
        re.compile(rf"{_NAME_PART}{{2,8}}(?:{_NAMED})、{_NAME_PART}{{1,8}}(?:{_NAMED})"),
    ),
    # 第几届 / 哪一届 / which edition — an ordinal, stated as 第24届 (not a date: 哪一届 asks which, not when)
    "ordinal": (
        re.compile(
            r"第几(?:届|次|期|批|轮)|哪一?(?:届|期|批|轮)|\b(?:which|what) (?:edition|session|round|batch)\b", re.I
        ),
        re.compile(r"第[0-9一二三四五六七八九十百]+(?:届|次|期|批|轮)"),
    ),
    # 什么时候 / 几号 / 哪天 / when
    "time": (
        re.compile(
            r"什么时候|几时|何时|几号|哪天|哪一天|哪几(?:天|日|号|月|年)|几月|几点|哪一?年|日期"
            r"|\bwhen\b|\bwhat (?:date|time)\b",
            re.I,
        ),
        re.compile(
            r"[0-9]+月|[0-9]+日|[一二三四五六七八九十]+月|月底|年底|年内|年初|上半年|下半年|春季|秋季|寒假|暑假"
        ),
    ),
    # 局长是谁 / 校长叫什么 / who is the head of — plans assign work to units, never to named office-holders
    "person": (
        re.compile(
            r"(?:局长|校长|院长|主任|书记|科长|处长|老师|领导|负责人)(?:是谁|叫什么|是哪位)"
            r"|\bwho is the (?:head|director|chief|principal|mayor|leader)\b"
            r"|\bname of the (?:head|director|chief|principal|mayor|leader|person|official)\b",
            re.I,
        ),
        None,
    ),
    # 在哪 / 哪里 / 哪家医院 / 几楼 / 电话 / where
    "place": (
        re.compile(rf"哪里|哪儿|哪家|{_WHERE}", re.I),
        None,
    ),
    # 怎么申请 / 流程是什么 / 要准备哪些材料 — a procedure for one person; plans set tasks, not procedures
    "procedure": (
        re.compile(
            r"怎么(?:申请|办理|报名|买|购买|考|领|缴|交钱)|如何(?:申请|办理|报名|购买)|流程|步骤|(?:哪些|什么)材料"
            r"|\bhow (?:do|can) (?:i|we|you) (?:apply|register|enrol|enroll|buy)\b|\bprocedure\b",
            re.I,
        ),
        re.compile(r"流程|程序|步骤|材料|办理"),
    ),
}
# "X是谁" naming a person (龚全珍是谁): a name of two or three characters, not a unit or a role.
_NAMED_PERSON = re.compile(r"(?:^|[，,。；;？?!！\s])([\u4e00-\u9fff]{2,3})是谁")
_NOT_A_NAME = re.compile(r"单位|部门|科|室|处|股|局|委|办|中心|院|校|牵头|负责|领导|长|人|这|那|哪|事|个|活")
# In a who-question (which asks for a unit, and every task states its units) "几个" and "哪里" are not asked for:
# "被几个大孩子欺负，谁管" / "归哪里管". A date, a procedure, a person, an address still are.
_WHO_PLACE = re.compile(_WHERE, re.I)
# “三化”是哪三化 / “三个百分之百”具体是指哪三个: asks what a term in quotes stands for. A plan that only names it
# (持续抓好基层党建“三化”建设) does not say; one that explains it writes the term then 即 / ： / （ / 包括 / 是指.
_DEFINITION_ASKED = re.compile(
    r"[“\"]([^”\"]{1,16})[”\"][^，,。？?]{0,12}?(?:是指|是哪|指的是|指什么|什么意思|含义|包括哪)"
)
_EXPLAINED = "(?:即|：|:|（|\\(|是指|包括|分别是)"


class GateModelError(PlanQAError):
    """The gate's coefficients file is missing or does not fit the signals."""


@dataclass(frozen=True)
class GateModel:
    """A fitted logistic model: standardised signals, coefficients, and the chosen operating point."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, signals: Signals) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += coef * (float(getattr(signals, name)) - mean) / scale
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


@lru_cache(maxsize=4)
def load_gate_model(path: Path = GATE_MODEL) -> GateModel:
    """The fitted gate (``rag/gate.json``, written by ``python -m eval.gate_fit``)."""
    fix = "run `python -m eval.gate_fit` to refit it on the dev split"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = GateModel(
            features=tuple(data["features"]),
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            coef=tuple(data["coef"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GateModelError(f"回答门限模型无法读取：{path}。Cannot read the answer gate {path} ({e}): {fix}.") from e
    unknown = [f for f in model.features if f not in Signals.__dataclass_fields__]
    if unknown or not len(model.features) == len(model.mean) == len(model.scale) == len(model.coef):
        raise GateModelError(
            f"回答门限模型与信号不符：{path}。The gate {path} does not fit the signals {unknown}: {fix}."
        )
    return model


@dataclass(frozen=True)
class Term:
    """A content word of the question and the plan terms that may stand for it (itself first)."""

    word: str
    alternatives: tuple[str, ...]
    context: tuple[str, str] = ("", "")  # the question's characters just before and after the word

    def found_in(self, text: str) -> bool:
        return any(a in text for a in self.alternatives)

    def found_whole_in(self, text: str) -> bool:
        """Found as itself or through a plan term that is not merely a part of it (高考 is part of 高考报名)."""
        return any(a in text for a in self.alternatives if a == self.word or a not in self.word)

    def misspelt_in(self, text: str) -> bool:
        """Is the word in ``text`` with one character typed wrong, between the same neighbours as in the question
        ("学前教肓" → 学前教育, "控缀保学" → 控辍保学, "课后服物" → 课后服务)? Two neighbouring characters at least
        anchor it, so that a word is not matched by chance."""
        left, right = self.context
        if len(left) + len(right) < 2 or not _CJK_ONLY.fullmatch(self.word):
            return False
        w = self.word
        return any(_with_one_char_between(text, left + w[:i], w[i + 1 :] + right) for i in range(len(w)))


def _with_one_char_between(text: str, before: str, after: str) -> bool:
    """Does ``text`` hold ``before``, one Chinese character, then ``after``? (Plain string search: a regular
    expression built per question and per word cost ~2.5 ms to compile, more than the rest of the gate.)"""
    start = text.find(before)
    while start != -1:
        i = start + len(before)
        if i < len(text) and "\u4e00" <= text[i] <= "\u9fff" and text.startswith(after, i + 1):
            return True
        start = text.find(before, start + 1)
    return False


@dataclass(frozen=True)
class Assessment:
    """Retrieval for a question, its content words, and the gate's signals for the best task."""

    retrieval: Retrieval
    terms: tuple[Term, ...]  # through the lexicon
    words: tuple[str, ...]  # verbatim (keyword coverage)
    signals: Signals | None  # None when retrieval found nothing

    @property
    def hits(self) -> list[TaskHit]:
        return self.retrieval.hits


def content_terms(
    query: Query, tokenizer: WordTokenizer, lexicon: Lexicon, plan: Plan | None = None
) -> tuple[Term, ...]:
    """What the plan must say to answer: the lexicon's words anywhere in the question (with their plan terms),
    then the other words of its topic. English words the lexicon does not know are left out: they can be neither
    found nor missed; so are framing words (局里, 这块) and, when anything longer is asked about, single
    characters, the numbers a teacher tells about (七十多个), and, given the ``plan``, the words of its title (萍乡:
    the issuer, not a topic) and the common words of everyday Chinese that neither the plan nor the lexicon knows
    (东西, 一样, 接着, 明天): they say how a teacher talks, not what the plan must say."""
    topic = query.topic or query.normalized
    for unit in query.units:
        rest = topic.replace(unit, " ")
        if rest.strip():
            topic = rest  # naming 萍乡学院 does not make "萍乡学院有几个专业" a question the plan covers
    terms: list[Term] = []
    for m in lexicon.find(query.normalized):
        if m.group.unit or m.said in lexicon.frame:
            continue
        topic = topic.replace(m.said, " ")
        if all(t.word != m.said for t in terms):
            terms.append(Term(m.said, tuple(dict.fromkeys((m.said, *m.group.terms)))))
    words = [
        w for w in tokenizer.phrases(topic) if not ASKING.match(w) and not _LATIN.search(w) and w not in lexicon.frame
    ]
    if terms:
        words = [w for w in words if len(w) > 1]
    for w in meaningful(words):
        if all(t.word != w for t in terms):
            terms.append(Term(w, lexicon.alternatives(w)))
    terms = [replace(t, context=_context(query.topic or query.normalized, t.word)) for t in terms]
    counted = [t for t in terms if not _TOLD_NUMBER.match(t.word)]
    if plan is None:
        return tuple(counted)
    title, written = normalize(plan.title), plan_text(plan)
    topical = [t for t in counted if not _of_title(t.word, title) and not _everyday(t, tokenizer, written)]
    return tuple(topical or counted)


def _of_title(word: str, title: str) -> bool:
    """A word of the plan's title — the issuer, its place, the year — alone or with a particle or a word of
    motion stuck to it (来澄湖, 萍乡的): it says whose plan is asked, not what about. 教育法 is not 教育."""
    if word in title:
        return True
    return len(word) >= 3 and (
        (word[0] in _STUCK_BEFORE and word[1:] in title) or (word[-1] in _STUCK_AFTER and word[:-1] in title)
    )


_STUCK_BEFORE = frozenset("来去到在从给")  # 来澄湖, 在萍乡
_STUCK_AFTER = frozenset("的里了呢吗啊")  # 萍乡的, 市里


def _context(question: str, word: str) -> tuple[str, str]:
    """The Chinese characters just before and after ``word`` in ``question`` (its topic: framing words are gone),
    two at most each side."""
    at = question.find(word)
    if at < 0:
        return ("", "")
    left = _CJK_RUN_END.search(question[:at])
    right = _CJK_RUN_START.match(question[at + len(word) :])
    return (left.group()[-2:] if left else "", right.group()[:2] if right else "")


def _everyday(term: Term, tokenizer: WordTokenizer, plan_words: str) -> bool:
    """A word of everyday Chinese (jieba's corpus has it ``COMMON_WORD`` times or more) that the lexicon has no
    plan term for and the plan never writes: 东西, 一样, 特别, 接着."""
    return len(term.alternatives) == 1 and term.word not in plan_words and tokenizer.frequency(term.word) >= COMMON_WORD


def content_words(query: Query, tokenizer: WordTokenizer) -> list[str]:
    """The question's content words as written (no lexicon): what ``keyword_coverage`` looks for."""
    topic = query.topic or query.normalized
    terms = meaningful([t for t in tokenizer.phrases(topic) if not ASKING.match(t)])
    if query.units:
        rest = topic
        for unit in query.units:
            rest = rest.replace(unit, " ")
        rest_terms = meaningful([t for t in tokenizer.phrases(rest) if not ASKING.match(t)])
        if rest_terms:
            return rest_terms
    return terms


def meaningful(terms: list[str]) -> list[str]:
    """Single characters (放, 假, 率) match almost any long text by accident: count them only when the
    question has nothing longer."""
    longer = [t for t in terms if len(t) > 1]
    return longer or terms


def soft_coverage(terms: Sequence[Term], text: str) -> float:
    """Share of ``terms`` found in ``text`` through their plan terms (or with one character mistyped); a long word
    not found whole earns half the share of its bigrams found (as ``coverage`` does)."""
    if not terms:
        return 0.0
    total = 0.0
    for term in terms:
        if term.found_whole_in(text) or term.misspelt_in(text):
            total += 1.0
        elif term.found_in(text):
            total += 0.5  # only through a part of it: 高考 for 高考报名, 教师 for 教师资格证
        elif len(term.word) > 2:
            grams = char_bigrams(term.word)
            total += 0.5 * sum(g in text for g in grams) / len(grams) if grams else 0.0
    return total / len(terms)


def covered(terms: Sequence[Term], text: str) -> frozenset[str]:
    """The question's words that ``text`` says (directly or by a plan term)."""
    return frozenset(t.word for t in terms if t.found_in(text))


def asked_details(question: str, intent: Intent = Intent.FACT) -> tuple[str, ...]:
    """What kinds of detail the question asks for: quantity, names, ordinal, time, person, place, procedure. A
    who-question asks for the unit, which every task states: a quantity, an ordinal or "哪里" is not asked there
    ("被几个大孩子欺负，谁管" asks who, not how many)."""
    kinds = [kind for kind, (asked, _) in DETAILS.items() if asked.search(question)]
    if "person" not in kinds and any(not _NOT_A_NAME.search(m.group(1)) for m in _NAMED_PERSON.finditer(question)):
        kinds.append("person")
    if intent is Intent.WHO:
        kinds = [
            k
            for k in kinds
            if k not in ("quantity", "names", "ordinal") and (k != "place" or _WHO_PLACE.search(question))
        ]
    return tuple(kinds)


def states(kinds: Sequence[str], text: str) -> int:
    """How many of the asked ``kinds`` of detail ``text`` states (a number, a date, a list of names)."""
    return sum(1 for k in kinds if (stated := DETAILS[k][1]) is not None and stated.search(text))


def definition_missing(question: str, text: str) -> bool:
    """Does the question ask what a quoted term stands for (“三化”是哪三化) while ``text`` (the task, normalised)
    only names it, without explaining it right after?"""
    m = _DEFINITION_ASKED.search(question)
    if m is None:
        return False
    term = m.group(1)
    return term in text and not re.search(re.escape(term) + r"[”\"]?[^，,。；;]{0,4}?" + _EXPLAINED, text)


def best_sentences(hit: TaskHit, terms: Sequence[Term], title: str = "") -> list[str]:
    """Where an answer would be read: the task's retrieved sentences (normalised) that say the most of the
    question's words, and among those the best retrieved, plus any that say as much (ties). A sentence that says
    one of the words itself is read under the task's ``title`` (a sentence details what its title names: the title
    家校社协同育人 and the sentence “五位一体”育人格局 answer 家校社协同育人是几位一体 together); one that says none
    is not lifted by the title (a year in it does not answer 劳动教育覆盖率是百分之几)."""
    heading = normalize(title)

    def said(text: str) -> float:
        own = soft_coverage(terms, text)
        return soft_coverage(terms, f"{heading} {text}") if own > 0 else own

    texts = [normalize(h.text) for h in hit.hits]
    scored = [(said(text), text) for text in texts]
    best = max((c for c, _ in scored), default=0.0)
    tied = [text for c, text in scored if c == best]
    return tied if best > 0 else tied[:1]


def detail_missing(
    question: str, hit: TaskHit, terms: Sequence[Term], intent: Intent = Intent.FACT, title: str = ""
) -> bool:
    """Does the question ask for a detail that the task's best-matching sentence does not state? A quantity
    asked in a measure (多少分钟, 几节课, how many minutes) must be stated in that measure; a term asked to be
    explained must be explained."""
    if intent is not Intent.WHO and definition_missing(question, normalize(" ".join(h.text for h in hit.hits))):
        return True
    kinds = asked_details(question, intent)
    if not kinds:
        return False
    sentences = best_sentences(hit, terms, title)
    for kind in kinds:
        stated = DETAILS[kind][1]
        if stated is None or not any(stated.search(s) for s in sentences):
            return True
    measure = _measure(question) if "quantity" in kinds else None
    if measure is None:
        return False
    priced = _priced(question, terms)
    return not any(measure.search(s) and (priced is None or priced.found_in(s)) for s in sentences)


# 多少分钟 / 几节课 / 多少钱 / how many minutes / 多久: the measure a stated number must carry.
_MEASURE_ASKED = re.compile(
    rf"(?:多少|{_HOW_MANY})(分钟|小时|节|元|块钱|钱|万元|人|名|所|个)|\bhow (?:many|much) (\w+)"
    r"|(多久|多长时间|\bhow long\b)",
    re.I,
)
# 多久 / how long: a length of time — 3个月, 两周, 40分钟, 三年 — never a date or an ordinal (2021年, 9月, 第三年,
# 100周年, 三年级).
_DURATION = re.compile(
    r"(?<![0-9第])(?:[0-9]{1,3}(?:\.[0-9]+)?|[一二两三四五六七八九十百半]+)(?:个月|分钟|小时|天|周(?!年)|学时|课时|年(?![度级]))"
)
_MEASURES = {
    "分钟": "分钟", "小时": "小时", "节": "节", "元": "元", "块钱": "元", "钱": "元", "万元": "元", "人": "人|名",
    "名": "名|人", "所": "所", "个": "个", "minutes": "分钟", "hours": "小时", "money": "元", "yuan": "元",
    "people": "人|名", "students": "人|名", "teachers": "人|名", "schools": "所",
}  # fmt: skip


# 租金是多少 / 服务费标准是多少 / 还有奖金吗,给多少 / 有多少经费: an amount of money asked without a measure word
# is stated in 元.
_MONEY = "钱|费|租金|工资|薪|补助|补贴|奖金|奖励|价|金额|经费|资金|学金"
_MONEY_AFTER = "钱|费用|租金|工资|补助|补贴|奖金|经费|资金|学费"  # 多少经费 (not 多少奖励分, 多少价位)
_MONEY_ASKED = re.compile(rf"({_MONEY})[^。？?]{{0,8}}?多少(?!人|名|所|个)|多少({_MONEY_AFTER})")


def _priced(question: str, terms: Sequence[Term]) -> Term | None:
    """The question's word for what an amount of money is asked of (租金 in 人才公寓租金是多少, 奖金 in 还有奖金吗,
    给多少): a sum the plan states for something else (购房补贴 …万元) does not answer it. None when the question
    names no such thing (要交多少钱)."""
    m = _MONEY_ASKED.search(question)
    asked = (m.group(1) or m.group(2)) if m else None
    if not asked or asked == "钱":
        return None
    return next((t for t in terms if asked in t.word), None)


def _measure(question: str) -> re.Pattern[str] | None:
    m = _MEASURE_ASKED.search(question)
    if m and m.group(3):
        return _DURATION
    unit = _MEASURES.get((m.group(1) or m.group(2) or "").lower()) if m else None
    if unit is None and _MONEY_ASKED.search(question):
        unit = "元"
    return re.compile(rf"[0-9一二两三四五六七八九十百千万亿.]+(?:{unit})") if unit else None


def year_missing(question: str, plan: Plan) -> bool:
    """Does the question name a year (2022年) that the plan never mentions?"""
    asked = set(_YEAR.findall(question))
    if not asked:
        return False
    text = " ".join([plan.title, plan.preamble, *(t.text for t in plan.tasks)])
    return bool(asked - set(_YEAR.findall(text)))


def latin_share(text: str) -> float:
    latin, cjk = len(_LATIN.findall(text)), len(_CJK.findall(text))
    return latin / (latin + cjk) if latin + cjk else 0.0


def signals(query: Query, plan: Plan, retrieval: Retrieval, terms: Sequence[Term], words: list[str]) -> Signals | None:
    """The gate's signals for the best task of ``retrieval``; None when it found nothing."""
    if not retrieval.hits:
        return None
    top = retrieval.hits[0]
    task = indexed_task(plan, top.task)
    text = normalize(task.text)
    z = retrieval.dense_z(top.similarity)
    others = [retrieval.dense_z(h.similarity) for h in retrieval.hits[1:]]
    fused = sorted(((h.score, i == 0) for i, hit in enumerate(retrieval.hits) for h in hit.hits), key=lambda s: -s[0])
    best = fused[:TOP_SHARE_SENTENCES]
    return Signals(
        dense_z=round(z, 4),
        dense_margin=round(z - max(others, default=z), 4),
        keyword_coverage=round(coverage(words, text), 4),
        soft_coverage=round(soft_coverage(terms, text), 4),
        latin_share=round(latin_share(query.normalized), 4),
        detail_missing=detail_missing(query.normalized, top, terms, query.intent, task.title),
        year_missing=year_missing(query.normalized, plan),
        top_share=round(sum(of_top for _, of_top in best) / len(best), 4),
    )


def assess(index: PlanIndex, query: Query, lexicon: Lexicon, config: RetrievalConfig) -> Assessment:
    """Retrieve for ``query`` (expanded through the lexicon; English and mixed questions embed with the plan's
    terms too) and measure the gate's signals for the best task."""
    retrieval = retrieve(
        index, query.normalized, config, query.expansion, expand_dense=query.language is not Language.ZH
    )
    terms = content_terms(query, index.tokenizer, lexicon, index.plan)
    words = content_words(query, index.tokenizer)
    retrieval = saying_the_question_first(retrieval, terms, index.plan)
    return Assessment(retrieval, terms, tuple(words), signals(query, index.plan, retrieval, terms, words))


def saying_the_question_first(retrieval: Retrieval, terms: Sequence[Term], plan: Plan) -> Retrieval:
    """``retrieval`` with a runner-up put first when the best task says none of the question's words, even
    through the lexicon, and a task among the next ``RUNNER_UP_DEPTH - 1`` says every one of them. Fusion keeps
    ranks, not margins: for "放学后托管归哪个科管?" the dense model puts 放管服 (a near-homophone, no word shared)
    narrowly above the task on 课后服务 that the keyword rankings put far first."""
    hits = retrieval.hits
    if not terms or len(hits) < 2 or soft_coverage(terms, _task_text(plan, hits[0].task)) > 0:
        return retrieval
    for i, hit in enumerate(hits[1:RUNNER_UP_DEPTH], 1):
        if soft_coverage(terms, _task_text(plan, hit.task)) >= 1.0:
            return replace(retrieval, hits=[hit, *hits[:i], *hits[i + 1 :]])
    return retrieval


def indexed_task(plan: Plan, key: int) -> Task:
    """The task of a key the index gave: the index was built from this plan, so the plan has it."""
    task = plan.task(key)
    assert task is not None, f"the index names task {key}, which the plan lacks"
    return task


def _task_text(plan: Plan, key: int) -> str:
    return normalize(indexed_task(plan, key).text)


def decide(signals: Signals, model: GateModel, question: str) -> Evidence:
    """Answer when the model's probability reaches its operating point. A question asking who holds an office
    (局长是谁) is refused whatever the model says: plans assign work to units and never name office-holders."""
    probability = round(model.probability(signals), 4)
    if "person" in asked_details(question, Intent.WHO):
        return Evidence(signals, probability, model.threshold, Decision.REFUSE, reason="asks_person")
    decision = Decision.ANSWER if probability >= model.threshold else Decision.REFUSE
    return Evidence(signals, probability, model.threshold, decision)
