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
