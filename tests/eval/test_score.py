"""The scorer, on hand-made predictions: each rule can fail, and the aggregate counts what it should."""

from __future__ import annotations

from eval.gold import GoldQuestion
from eval.score import score_one, summarize
from eval.systems import Prediction, _chunk_units, _task_spans

WHO = GoldQuestion.model_validate(
    {
        "id": "who-900",
        "split": "dev",
        "category": "who",
        "question": "谁负责近视防控?",
        "kind": "who",
        "gold_tasks": [8],
        "gold_units": ["体卫艺科", "教育评估监测中心", "基教科"],
        "lead_unit": "体卫艺科",
    }
)
REVERSE = GoldQuestion.model_validate(
    {
        "id": "reverse-900",
        "split": "dev",
        "category": "reverse",
        "question": "督导室负责哪些任务?",
        "kind": "reverse",
        "gold_tasks": [11, 12, 13, 26],
        "gold_units": ["督导室"],
    }
)
FACT = GoldQuestion.model_validate(
    {
        "id": "fact_number-900",
        "split": "dev",
        "category": "fact_number",
        "question": "大班额比例?",
        "kind": "fact",
        "gold_tasks": [12],
        "must_contain": ["1%"],
    }
)
REFUSE = GoldQuestion.model_validate(
    {
        "id": "out_of_scope-900",
        "split": "dev",
        "category": "out_of_scope",
        "question": "明天天气?",
        "kind": "fact",
        "refuse": True,
    }
)


def pred(tasks=(), units=(), text="", found=True, ms=1.0) -> Prediction:  # type: ignore[no-untyped-def]
    return Prediction(found, tuple(tasks), tuple(units), text, ms)


def test_who_needs_the_exact_unit_set_with_the_lead_first() -> None:
    right = score_one(WHO, pred([8, 31], ["体卫艺科", "教育评估监测中心", "基教科"]))
    assert right.correct and right.hit1 == 1.0 and right.unit_exact == 1.0 and right.lead_ok == 1.0
    reordered = score_one(WHO, pred([8], ["基教科", "体卫艺科", "教育评估监测中心"]))
    assert reordered.unit_exact == 1.0 and reordered.lead_ok == 0.0 and not reordered.correct
    missing = score_one(WHO, pred([8], ["体卫艺科"]))
    assert missing.unit_exact == 0.0 and missing.lead_ok == 1.0 and not missing.correct


def test_ranks_give_hit_at_k_and_reciprocal_rank() -> None:
    second = score_one(WHO, pred([31, 8], ["体卫艺科"]))
    assert (second.hit1, second.hit3, second.rr) == (0.0, 1.0, 0.5) and not second.correct
    absent = score_one(WHO, pred([1, 2, 3]))
    assert (absent.hit1, absent.hit3, absent.rr) == (0.0, 0.0, 0.0)


def test_reverse_lookup_is_scored_as_a_set() -> None:
    exact = score_one(REVERSE, pred([26, 11, 12, 13]))
    assert exact.correct and exact.rev_precision == 1.0 and exact.rev_recall == 1.0 and exact.hit1 is None
    partial = score_one(REVERSE, pred([11, 12, 30]))
    assert not partial.correct and partial.rev_precision == 2 / 3 and partial.rev_recall == 0.5


def test_facts_need_every_substring_full_width_or_not() -> None:
    assert score_one(FACT, pred([12], text="大班额比例控制在1％以内")).correct  # NFKC: ％ is %
    wrong = score_one(FACT, pred([12], text="稳步消除化解义务教育大班额"))
    assert wrong.hit1 == 1.0 and wrong.substr_ok == 0.0 and not wrong.correct


def test_refusals() -> None:
    assert score_one(REFUSE, pred(found=False)).correct
    assert not score_one(REFUSE, pred([12], text="…")).correct
    refused_answerable = score_one(FACT, pred(found=False))
    assert not refused_answerable.correct and refused_answerable.hit1 == 0.0


def test_summary_counts_refusal_precision_recall_and_latency() -> None:
    outcomes = [
        score_one(REFUSE, pred(found=False, ms=10)),  # true refusal
        score_one(REFUSE, pred([3], ms=20)),  # answered the unanswerable
        score_one(FACT, pred(found=False, ms=30)),  # refused an answerable question
        score_one(FACT, pred([12], text="1%", ms=40)),  # right
    ]
    s = summarize(outcomes)
    assert s["n"] == 4 and s["accuracy"] == 0.5
    assert s["refusal_p"] == 0.5 and s["refusal_r"] == 0.5 and s["answered_unanswerable"] == 1
    assert s["hit@1"] == 0.5  # over the two answerable questions
    assert s["max_ms"] == 40 and s["p50_ms"] == 25


def test_langchain_chunks_are_credited_to_the_task_they_overlap_most() -> None:
    corpus = "一、甲\n  1.第一项。内容。(责任单位:甲科、乙科,各县区)\n  2.第二项。更多内容。(责任单位:丙科)\n"
    spans = _task_spans(corpus)
    assert set(spans) == {1, 2} and corpus[spans[2][0] :].lstrip().startswith("2.第二项")
    start = corpus.index("2.")
    chunk = corpus[start:]
    assert _chunk_units(corpus, chunk, start, spans[2]) == ("丙科",)
    tail_of_one = corpus[corpus.index("内容") : corpus.index("2.") + 4]  # task 1's note, then the start of task 2
    assert _chunk_units(corpus, tail_of_one, corpus.index("内容"), spans[2]) == ("甲科", "乙科", "各县区")


def test_tasks_are_scored_by_ref_section_and_number_included() -> None:
    per_section = GoldQuestion.model_validate(
        {
            "id": "task-900",
            "split": "dev",
            "category": "task",
            "question": "第五部分第3项是什么?",
            "kind": "task",
            "gold_tasks": ["5-3"],
        }
    )
    assert score_one(per_section, pred(["5-3"])).correct
    assert not score_one(per_section, pred(["3-5"])).correct and not score_one(per_section, pred([3])).correct
    assert score_one(FACT, pred(["12"], text="1%")).correct  # a continuous plan's ref is its number


ROUNDUP = GoldQuestion.model_validate(
    {
        "id": "roundup-900",
        "split": "dev",
        "category": "roundup",
        "question": "跟幼儿园有关的任务有哪些?",
        "kind": "roundup",
        "gold_tasks": [11],
        "also_ok": [16],
    }
)


def test_a_roundup_needs_every_gold_task_and_nothing_outside_also_ok() -> None:
    def outcome(tasks: tuple[int, ...]):  # type: ignore[no-untyped-def]
        return score_one(ROUNDUP, Prediction(True, tasks, (), "", 1.0))

    assert outcome((11,)).correct and outcome((16, 11)).correct
    assert not outcome((16,)).correct  # a gold task missing
    assert not outcome((11, 12)).correct  # a task outside gold ∪ also_ok
    assert outcome((11, 12)).cite_precision == 0.5
    assert not score_one(ROUNDUP, Prediction(False, (), (), "", 1.0)).correct


def test_citation_precision_counts_secondary_citations() -> None:
    sharp = score_one(WHO, Prediction(True, (8,), ("体卫艺科", "教育评估监测中心", "基教科"), "", 1.0))
    noisy = score_one(WHO, Prediction(True, (8, 31, 30), ("体卫艺科", "教育评估监测中心", "基教科"), "", 1.0))
    assert sharp.correct and noisy.correct  # the first citation decides correctness …
    assert sharp.cite_precision == 1.0 and round(noisy.cite_precision or 0, 3) == 0.333  # … precision sees the rest
    assert summarize([sharp, noisy])["cite_p"] == round((1.0 + 1 / 3) / 2, 4)


def test_shown_at_1_counts_the_right_task_offered_first_when_refused() -> None:
    """A refusal that offers the gold task first is not an answer (it scores wrong) but shows the right task."""
    offered = Prediction(False, (), (), "抱歉…相关的可能是：第8项…", 1.0, offered=("8", "30"))
    out = score_one(WHO, offered)
    assert not out.correct and out.hit1 == 0.0 and out.shown1 == 1.0
    assert score_one(WHO, Prediction(False, (), (), "", 1.0, offered=("30", "8"))).shown1 == 0.0
    assert score_one(WHO, Prediction(False, (), (), "", 1.0)).shown1 == 0.0
    answered = score_one(FACT, pred([31, 12], text="1%"))
    assert answered.hit1 == 0.0 and answered.shown1 == 0.0  # an answer's first citation is what it shows
    assert score_one(REFUSE, pred(found=False)).shown1 is None and score_one(REVERSE, pred([11])).shown1 is None
    s = summarize([out, answered, score_one(REFUSE, pred(found=False))])
    assert s["shown@1"] == 0.5 and s["hit@1"] == 0.0
