"""Follow-up questions through the answering service, and the session store, against the real plan and index."""

from __future__ import annotations

import gc
import itertools
import threading
import weakref
from dataclasses import replace

import pytest

from index.errors import InvalidConversationError, InvalidQuestionError
from rag.limits import MAX_TOP_K
from rag.service import AnsweringService, Channel, Reply
from rag.sessions import SessionConfig, SessionStore
from rag.types import FollowUp, Intent, Turn

_ids = itertools.count()


def chain(service: AnsweringService, *questions: str, top_k: int | None = None) -> list[Reply]:
    """The questions asked one after the other in a fresh conversation."""
    cid = f"test-{next(_ids)}"
    return [service.ask(q, channel=Channel.WEB, conversation_id=cid, top_k=top_k) for q in questions]


def answer(service: AnsweringService, question: str, top_k: int | None = None):  # type: ignore[no-untyped-def]
    return service.ask(question, channel=Channel.WEB, top_k=top_k).answer


# ---- resolution -------------------------------------------------------------------------------------


def test_lead_of_previous_task(service):
    first, second = chain(service, "谁负责近视防控?", "那它的牵头单位是谁?")
    task = service.plan.task(first.answer.citations[0].task)
    assert second.follow_up is FollowUp.LEAD
    assert second.answer.found and second.answer.intent is Intent.WHO
    assert [c.task for c in second.answer.citations] == [task.number]
    assert f"牵头单位是{task.lead_unit}" in second.answer.text
    assert second.answer.question == "那它的牵头单位是谁?"


@pytest.mark.parametrize("follow_up", ["谁牵头?", "它由哪个科室负责?", "这项任务的责任单位是哪些"])
def test_other_wordings_of_who_refer_back(service, follow_up):
    first, second = chain(service, "课后服务归哪个科室管?", follow_up)
    assert second.follow_up is FollowUp.LEAD
    assert second.answer.citations[0].task == first.answer.citations[0].task


def test_second_item_is_asked_the_way_the_list_was(service):
    who, item = chain(service, "谁负责劳动教育?", "第二个呢?")  # tasks 8 and 7 both say 劳动教育
    second = service.plan.task(who.answer.citations[1].task)
    assert item.follow_up is FollowUp.LEAD  # the list answered "who": so does its second item
    assert item.answer.citations[0].task == second.number
    assert second.lead_unit in item.answer.text

    listing, item = chain(service, "基教科负责哪些任务?", "第三个呢?")
    third = listing.answer.citations[2].task
    assert item.follow_up is FollowUp.ITEM
    assert item.answer.intent is Intent.TASK and item.answer.citations[0].task == third
    assert f"第{third}项" in item.answer.text


def test_ordinal_keeps_counting_in_the_same_list(service):
    turns = chain(service, "第四部分讲什么", "第二个呢?", "第三个呢?", "最后一个呢?")
    listed = [c.task for c in turns[0].answer.citations]
    assert [t.answer.citations[0].task for t in turns[1:]] == [listed[1], listed[2], listed[-1]]


def test_ordinal_beyond_the_list_says_so(service):
    first, item = chain(service, "谁负责近视防控?", "第九个呢?")
    assert not item.answer.found
    assert f"只列出了{len(first.answer.citations)}项" in item.answer.text


def test_ordinal_after_an_answer_without_tasks(service):
    _, item = chain(service, "明天天气怎么样?", "第二个呢?")
    assert not item.answer.found and not item.answer.citations
    assert "没有列出任务" in item.answer.text


def test_original_text_of_the_task_in_focus(service):
    first, lead, original = chain(service, "谁负责劳动教育?", "第二个呢?", "这项任务的原文")
    focus = service.plan.task(first.answer.citations[1].task)
    assert original.follow_up is FollowUp.ORIGINAL
    assert focus.text in original.answer.text  # verbatim, with the 责任单位 note
    assert original.answer.citations[0].excerpt == focus.body


def test_original_of_a_numbered_task_needs_no_history(service):
    turn = service.ask("第8项的原文", channel=Channel.WEB)
    assert turn.follow_up is FollowUp.ORIGINAL
    assert service.plan.task(8).text in turn.answer.text


def test_more_lists_further_tasks_not_shown_before(service):
    first, more, again = chain(service, "职业教育有哪些措施?", "还有哪些?", "还有吗?", top_k=1)
    wider = answer(service, "职业教育有哪些措施?", top_k=MAX_TOP_K)  # every related task, not only the closest
    assert more.follow_up is FollowUp.MORE and more.answer.found
    shown = {c.task for c in first.answer.citations}
    expected = [c.task for c in wider.citations if c.task not in shown][:1]
    assert [c.task for c in more.answer.citations] == expected
    assert not set(c.task for c in again.answer.citations) & (shown | set(expected))


def test_more_after_a_complete_list_says_there_is_no_more(service):
    first, more = chain(service, "基教科负责哪些任务?", "还有哪些?")
    assert not more.answer.found
    assert f"全部{len(first.answer.citations)}项" in more.answer.text


def test_topic_follow_up_reuses_the_question(service):
    _, turn = chain(service, "谁负责近视防控?", "那课后服务呢?")
    direct = answer(service, "谁负责课后服务?")
    assert turn.follow_up is FollowUp.TOPIC and turn.resolved_question == "谁负责课后服务?"
    assert [c.task for c in turn.answer.citations] == [c.task for c in direct.citations]

    _, turn = chain(service, "基教科负责哪些任务?", "师资科呢?")
    assert turn.answer.intent is Intent.REVERSE and "师资科" in turn.answer.text


def test_task_number_follow_up_after_who(service):
    _, turn = chain(service, "第8项的牵头单位是谁", "第十项呢?")
    assert turn.follow_up is FollowUp.LEAD and turn.answer.citations[0].task == 10


def test_standalone_questions_are_not_follow_ups(service):
    first, second = chain(service, "谁负责近视防控?", "基教科负责哪些任务?")
    assert second.follow_up is FollowUp.NONE
    assert second.answer == answer(service, "基教科负责哪些任务?")


def test_follow_up_without_history_is_answered_as_is(service):
    turn = service.ask("那它的牵头单位是谁?", channel=Channel.WEB)
    assert turn.follow_up is FollowUp.NONE and not turn.answer.found


def test_not_covered_turn_keeps_what_it_refers_to(service):
    first, _, lead = chain(service, "谁负责近视防控?", "明天天气怎么样?", "它的牵头单位是谁")
    assert lead.answer.citations[0].task == first.answer.citations[0].task


def test_replay_gives_the_same_last_turn(service):
    questions = ["谁负责近视防控?", "第二个呢?", "这项任务的原文"]
    stored = chain(service, *questions)[-1]
    replayed = service.ask(questions[-1], channel=Channel.OPENAI, history=questions[:-1])
    assert replayed.answer == stored.answer and replayed.follow_up is stored.follow_up
    # An earlier message too long to be a question is skipped, not an error.
    longer = service.ask(questions[-1], channel=Channel.OPENAI, history=["x" * 600, *questions[:-1]])
    assert longer.answer == stored.answer
    with pytest.raises(InvalidQuestionError):
        service.ask("", channel=Channel.OPENAI, history=questions)


def test_follow_up_question_is_still_validated(service):
    chain(service, "谁负责近视防控?")
    with pytest.raises(InvalidQuestionError):
        chain(service, "谁负责近视防控?", "   ")


def test_conversations_are_kept_apart_by_channel(service):
    """An API caller who knows a WeChat user's OpenID cannot read or steer that user's conversation."""
    service.ask("谁负责近视防控?", channel=Channel.WECHAT, conversation_id="oTeacher123")
    web = service.ask("那它的牵头单位是谁?", channel=Channel.WEB, conversation_id="oTeacher123")
    assert web.follow_up is FollowUp.NONE and not web.answer.found
    wechat = service.ask("那它的牵头单位是谁?", channel=Channel.WECHAT, conversation_id="oTeacher123")
    assert wechat.follow_up is FollowUp.LEAD and wechat.answer.citations[0].task == 8


# ---- the store --------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _turn(service: AnsweringService) -> Turn:
    reply = service.ask("谁负责近视防控?", channel=Channel.WEB)
    return Turn(reply.answer.question, reply.answer.question, FollowUp.NONE, reply.answer, Intent.WHO)


def test_store_keeps_the_last_turn_only(service):
    first, second = chain(service, "谁负责近视防控?", "那它的牵头单位是谁?")
    other = service.ask("那它的牵头单位是谁?", channel=Channel.WEB, conversation_id="someone-else")
    assert second.answer.found and second.answer.citations[0].task == first.answer.citations[0].task
    assert not other.answer.found  # another conversation knows nothing of the first
    store = SessionStore()
    turn = _turn(service)
    store.remember("c", turn)
    store.remember("c", turn)
    assert store.last("c") == turn and store.last("c") is not turn  # kept as JSON (rag/codec.py), read back whole


def test_a_long_conversation_keeps_one_turn_alive(service):
    """Only the last turn is read, so only the last turn is kept: a conversation of twenty turns holds one (as
    text: the store holds no reference to any turn)."""
    store = SessionStore()
    first = _turn(service)
    turns = [replace(first, question=f"第{n}个问题") for n in range(20)]
    alive = [weakref.ref(t) for t in turns]
    for turn in turns:
        store.remember("long", turn)
    last = replace(turns[-1])
    del turns, turn
    gc.collect()
    assert [r() is not None for r in alive] == [False] * 20 and store.last("long") == last


def test_store_expires_after_ttl(service):
    clock = Clock()
    store = SessionStore(SessionConfig(ttl_seconds=60), clock=clock)
    turn = _turn(service)
    store.remember("c1", turn)
    clock.now = 59
    assert store.last("c1") == turn
    store.remember("c2", turn)
    clock.now = 120  # c1 idle 120 s: gone; c2 idle 61 s: gone too
    assert store.last("c1") is None and store.last("c2") is None


def test_store_is_bounded_in_conversations(service):
    store = SessionStore(SessionConfig(max_conversations=3))
    turn = _turn(service)
    for cid in ["a", "b", "c"]:
        store.remember(cid, turn)
    store.last("a")  # a follow-up reads the last turn: a is the most recently used now
    store.remember("d", turn)  # evicts the least recently used: b
    assert store.last("b") is None and store.last("a") == turn
    assert [cid for cid in "abcd" if store.last(cid) is not None] == ["a", "c", "d"]


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "中文", "a\nb"])
def test_bad_conversation_ids_are_refused(service, bad):
    with pytest.raises(InvalidConversationError):
        service.ask("谁负责近视防控?", channel=Channel.WEB, conversation_id=bad)


def test_store_is_safe_across_threads(service):
    store = SessionStore(SessionConfig(max_conversations=50))
    turn = _turn(service)

    def work(n: int) -> None:
        for i in range(100):
            store.remember(f"c{(n * 7 + i) % 80}", turn)
            store.last(f"c{i % 80}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = [n for n in range(80) if store.last(f"c{n}") is not None]
    assert 0 < len(kept) <= 50 and all(store.last(f"c{n}") == turn for n in kept)


def test_words_containing_reference_characters_are_not_references(service):
    _, turn = chain(service, "谁负责近视防控?", "其他学校的课后服务谁负责?")
    assert turn.follow_up is FollowUp.NONE
