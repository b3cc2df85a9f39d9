"""WeChat's layout of a near miss: the plan does not state it, then the close tasks as a short list."""

from __future__ import annotations

from api.wechat import replies
from rag.service import AnsweringService, Channel


def test_a_near_miss_reads_as_a_short_list(service: AnsweringService) -> None:
    answer = service.ask("课后服务每天几点结束?", channel=Channel.WECHAT).answer
    text = replies.compose(answer, service.plan)
    lines = text.split("\n")
    assert "没有写明" in lines[0] and lines[1] == "相关的可能是："
    assert lines[2] == "1. 第12项 全力推动城乡义务教育一体化发展（基教科牵头）"
    assert lines[-1] == "可回复“第12项任务是什么”查看原文。"
    assert len(text.encode("utf-8")) < replies.MAX_BYTES


def test_an_answer_is_laid_out_as_before(service: AnsweringService) -> None:
    answer = service.ask("课后服务归哪个科室管?", channel=Channel.WECHAT).answer
    assert replies.compose(answer, service.plan) == answer.text  # who answers: unchanged


def test_close_tasks_of_a_plan_numbered_per_section_are_named_as_asked(fixture_index, settings) -> None:  # type: ignore[no-untyped-def]
    """In a plan numbered per section a task's key is not its number: the list and the hint say 第二部分第1项."""
    from config.wiring import build_service

    service = build_service(settings, fixture_index("yunling-health-2023"))
    answer = service.ask("家庭医生签约服务每年收多少钱?", channel=Channel.WECHAT).answer
    assert not answer.found and answer.suggestions, answer.text
    text = replies.compose(answer, service.plan)
    first = answer.suggestions[0]
    assert first.label.startswith("第") and "部分第" in first.label
    assert f"1. {first.label} {first.title}" in text and text.endswith(f"可回复“{first.label}任务是什么”查看原文。")
