"""What the answering service keeps and when it answers at once: query vectors by topic, whole replies to
repeated questions, and ``ask_now`` (no waiting: a cached reply, a lookup, a known vector — else None)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.settings import Settings
from config.wiring import build_service, service_config
from index.embeddings import QueryVectors
from index.store import PlanIndex
from rag.service import AnsweringService, Channel


@pytest.fixture()
def fresh(settings: Settings, plan_index: PlanIndex) -> AnsweringService:
    return build_service(settings, plan_index)


def _computed(service: AnsweringService) -> int:
    vectors = service.index.embeddings
    assert isinstance(vectors, QueryVectors)
    return vectors.computed


def test_one_topic_is_embedded_once(fresh: AnsweringService):
    assert fresh.topic("谁负责近视防控?") == fresh.topic("近视防控归谁管?") == "近视防控"
    first = fresh.ask("谁负责近视防控?", channel=Channel.WEB)
    second = fresh.ask("近视防控归谁管?", channel=Channel.WEB)
    assert _computed(fresh) == 1
    assert first.answer.citations[0].task == second.answer.citations[0].task == 8


def test_services_over_one_index_keep_their_own_vectors(fresh: AnsweringService, settings, plan_index):
    fresh.ask("谁负责校园足球?", channel=Channel.WEB)
    other = build_service(settings, fresh.index)  # built over a service's index: wraps the model, not the cache
    other.ask("谁负责校园足球?", channel=Channel.WEB)
    assert _computed(fresh) == _computed(other) == 1
    assert not isinstance(plan_index.embeddings, QueryVectors)  # the index itself is left as it was


def test_ask_now_gives_up_without_a_trace_when_it_would_embed(fresh: AnsweringService):
    misses, hits = fresh.answer_cache.misses, fresh.answer_cache.hits
    assert fresh.ask_now("课后服务归哪个科室管?", channel=Channel.WEB, conversation_id="c-1") is None
    assert (fresh.answer_cache.misses, fresh.answer_cache.hits) == (misses, hits)  # nothing counted
    assert fresh.sessions.last("web:c-1") is None and len(fresh.reply_cache) == 0 and _computed(fresh) == 0
    reply = fresh.ask("课后服务归哪个科室管?", channel=Channel.WEB, conversation_id="c-1")
    assert fresh.answer_cache.misses == misses + 1 and fresh.sessions.last("web:c-1") is not None
    # The follow-up needs no new vector: answered at once, in the same conversation.
    follow = fresh.ask_now("那它的牵头单位是谁?", channel=Channel.WEB, conversation_id="c-1")
    assert follow is not None and follow.follow_up.value == "lead"
    assert follow.answer.citations[0].task == reply.answer.citations[0].task


def test_lookups_are_answered_at_once(fresh: AnsweringService):
    for question in ("第12项是什么", "基教科负责哪些任务?", "第四部分讲什么?"):
        reply = fresh.ask_now(question, channel=Channel.WEB)
        assert reply is not None and reply.answer.found, question
    assert _computed(fresh) == 0


def test_repeated_questions_get_the_same_reply(fresh: AnsweringService):
    first = fresh.ask("谁负责学前教育?", channel=Channel.WEB)
    hits = fresh.answer_cache.hits
    again = fresh.ask_now("谁负责学前教育?", channel=Channel.WEB)
    assert again is first and fresh.answer_cache.hits == hits + 1  # counted as the cache hit it is
    assert fresh.ask("谁负责学前教育?", channel=Channel.WEB, top_k=1) is not first  # another top_k
    stream = fresh.stream("谁负责学前教育?", channel=Channel.WEB)
    assert "".join(stream) == first.answer.text and stream.reply is first


def test_no_reply_cache_without_answer_cache(settings, plan_index):
    service = build_service(settings, plan_index, config=replace(service_config(settings), answer_cache_size=0))
    first = service.ask("谁负责学前教育?", channel=Channel.WEB)
    assert service.ask("谁负责学前教育?", channel=Channel.WEB) is not first and len(service.reply_cache) == 0


def test_invalid_questions_raise_from_ask_now_too(fresh: AnsweringService):
    from index.errors import InvalidQuestionError

    with pytest.raises(InvalidQuestionError):
        fresh.ask_now("   ", channel=Channel.WEB)
