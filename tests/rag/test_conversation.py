"""Follow-up questions and the conversation store, against the real plan and index."""

from __future__ import annotations

import threading

import pytest

from rag.answer import answer
from rag.conversation import (
    ConversationConfig,
    ConversationStore,
    FollowUp,
    ask_in_conversation,
    converse,
    replay,
    take_turn,
)
from rag.errors import InvalidConversationError, InvalidQuestionError
from rag.types import Intent


def chain(index, *questions):
    turns = []
    for q in questions:
        turns.append(converse(index, turns[-1:], q))
    return turns


# ---- resolution -------------------------------------------------------------------------------------


def test_lead_of_previous_task(plan_index):
    first, second = chain(plan_index, "谁负责近视防控?", "那它的牵头单位是谁?")
    task = plan_index.plan.task(first.answer.citations[0].task)
    assert second.follow_up is FollowUp.LEAD
    assert second.answer.found and second.answer.intent is Intent.WHO
    assert [c.task for c in second.answer.citations] == [task.number]
    assert f"牵头单位是{task.lead_unit}" in second.answer.text
    assert second.answer.question == "那它的牵头单位是谁?"


@pytest.mark.parametrize("follow_up", ["谁牵头?", "它由哪个科室负责?", "这项任务的责任单位是哪些"])
def test_other_wordings_of_who_refer_back(plan_index, follow_up):
    first, second = chain(plan_index, "课后服务归哪个科室管?", follow_up)
    assert second.follow_up is FollowUp.LEAD
    assert second.answer.citations[0].task == first.answer.citations[0].task


def test_second_item_is_asked_the_way_the_list_was(plan_index):
    who, item = chain(plan_index, "谁负责近视防控?", "第二个呢?")
    second = plan_index.plan.task(who.answer.citations[1].task)
    assert item.follow_up is FollowUp.LEAD  # the list answered "who": so does its second item
    assert item.answer.citations[0].task == second.number
    assert second.lead_unit in item.answer.text

    listing, item = chain(plan_index, "基教科负责哪些任务?", "第三个呢?")
    third = listing.answer.citations[2].task
    assert item.follow_up is FollowUp.ITEM
    assert item.answer.intent is Intent.TASK and item.answer.citations[0].task == third
    assert f"第{third}项" in item.answer.text


def test_ordinal_keeps_counting_in_the_same_list(plan_index):
    turns = chain(plan_index, "第四部分讲什么", "第二个呢?", "第三个呢?", "最后一个呢?")
    listed = [c.task for c in turns[0].answer.citations]
    assert [t.answer.citations[0].task for t in turns[1:]] == [listed[1], listed[2], listed[-1]]


def test_ordinal_beyond_the_list_says_so(plan_index):
    first, item = chain(plan_index, "谁负责近视防控?", "第九个呢?")
    assert not item.answer.found
    assert f"只列出了{len(first.answer.citations)}项" in item.answer.text


def test_ordinal_after_an_answer_without_tasks(plan_index):
    _, item = chain(plan_index, "明天天气怎么样?", "第二个呢?")
    assert not item.answer.found and not item.answer.citations
    assert "没有列出任务" in item.answer.text


def test_original_text_of_the_task_in_focus(plan_index):
    first, lead, original = chain(plan_index, "谁负责近视防控?", "第二个呢?", "这项任务的原文")
    focus = plan_index.plan.task(first.answer.citations[1].task)
    assert original.follow_up is FollowUp.ORIGINAL
    assert focus.text in original.answer.text  # verbatim, with the 责任单位 note
    assert original.answer.citations[0].excerpt == focus.body


def test_original_of_a_numbered_task_needs_no_history(plan_index):
    turn = converse(plan_index, (), "第8项的原文")
    assert turn.follow_up is FollowUp.ORIGINAL
    assert plan_index.plan.task(8).text in turn.answer.text


def test_more_lists_further_tasks_not_shown_before(plan_index):
    first = converse(plan_index, (), "职业教育有哪些措施?", top_k=1)
    more = converse(plan_index, [first], "还有哪些?")
    wider = answer(plan_index, "职业教育有哪些措施?", top_k=4)
    assert more.follow_up is FollowUp.MORE and more.answer.found
    shown = {c.task for c in first.answer.citations}
    expected = [c.task for c in wider.citations if c.task not in shown][:3]
    assert [c.task for c in more.answer.citations] == expected
    again = converse(plan_index, [more], "还有吗?")
    assert not set(c.task for c in again.answer.citations) & (shown | set(expected))


def test_more_after_a_complete_list_says_there_is_no_more(plan_index):
    first, more = chain(plan_index, "基教科负责哪些任务?", "还有哪些?")
    assert not more.answer.found
    assert f"全部{len(first.answer.citations)}项" in more.answer.text


def test_topic_follow_up_reuses_the_question(plan_index):
    _, turn = chain(plan_index, "谁负责近视防控?", "那课后服务呢?")
    direct = answer(plan_index, "谁负责课后服务?")
    assert turn.follow_up is FollowUp.TOPIC and turn.resolved == "谁负责课后服务?"
    assert [c.task for c in turn.answer.citations] == [c.task for c in direct.citations]

    _, turn = chain(plan_index, "基教科负责哪些任务?", "师资科呢?")
    assert turn.answer.intent is Intent.REVERSE and "师资科" in turn.answer.text


def test_task_number_follow_up_after_who(plan_index):
    _, turn = chain(plan_index, "第8项的牵头单位是谁", "第十项呢?")
    assert turn.follow_up is FollowUp.LEAD and turn.answer.citations[0].task == 10


def test_standalone_questions_are_not_follow_ups(plan_index):
    first, second = chain(plan_index, "谁负责近视防控?", "基教科负责哪些任务?")
    assert second.follow_up is FollowUp.NONE
    assert second.answer == answer(plan_index, "基教科负责哪些任务?")


def test_follow_up_without_history_is_answered_as_is(plan_index):
    turn = converse(plan_index, (), "那它的牵头单位是谁?")
    assert turn.follow_up is FollowUp.NONE and not turn.answer.found


def test_not_covered_turn_keeps_what_it_refers_to(plan_index):
    first, _, lead = chain(plan_index, "谁负责近视防控?", "明天天气怎么样?", "它的牵头单位是谁")
    assert lead.answer.citations[0].task == first.answer.citations[0].task


def test_replay_gives_the_same_last_turn(plan_index):
    questions = ["谁负责近视防控?", "第二个呢?", "这项任务的原文"]
    assert replay(plan_index, questions).answer == chain(plan_index, *questions)[-1].answer
    # An earlier message too long to be a question is skipped, not an error.
    assert replay(plan_index, ["x" * 600, *questions]).answer == chain(plan_index, *questions)[-1].answer
    with pytest.raises(InvalidQuestionError):
        replay(plan_index, [])


def test_follow_up_question_is_still_validated(plan_index):
    first = converse(plan_index, (), "谁负责近视防控?")
    with pytest.raises(InvalidQuestionError):
        converse(plan_index, [first], "   ")


# ---- the store --------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_store_remembers_and_follows_up(plan_index):
    store = ConversationStore()
    first = ask_in_conversation(store, plan_index, "oA1b-openid_X", "谁负责近视防控?")
    second = ask_in_conversation(store, plan_index, "oA1b-openid_X", "那它的牵头单位是谁?")
    other = ask_in_conversation(store, plan_index, "someone-else", "那它的牵头单位是谁?")
    assert second.found and second.citations[0].task == first.citations[0].task
    assert not other.found  # another conversation knows nothing of the first
    assert len(store.history("oA1b-openid_X")) == 2 and len(store) == 2


def test_store_expires_after_ttl(plan_index):
    clock = Clock()
    store = ConversationStore(ConversationConfig(ttl_seconds=60), clock=clock)
    take_turn(store, plan_index, "c1", "谁负责近视防控?")
    clock.now = 59
    assert len(store.history("c1")) == 1
    take_turn(store, plan_index, "c2", "谁负责近视防控?")
    clock.now = 120  # c1 idle 120 s: gone; c2 idle 61 s: gone too
    assert store.history("c1") == () and len(store) == 0
    lead = ask_in_conversation(store, plan_index, "c1", "那它的牵头单位是谁?")
    assert not lead.found


def test_store_is_bounded_in_conversations_and_turns(plan_index):
    store = ConversationStore(ConversationConfig(max_conversations=3, max_turns=2))
    turn = converse(plan_index, (), "谁负责近视防控?")
    for cid in ["a", "b", "c"]:
        store.append(cid, turn)
    store.history("a")  # reading does not refresh; asking does
    store.append("a", turn)
    store.append("d", turn)  # evicts the least recently used: b
    assert len(store) == 3 and store.history("b") == ()
    for _ in range(5):
        store.append("a", turn)
    assert len(store.history("a")) == 2


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "中文", "a\nb"])
def test_store_refuses_bad_ids(bad):
    store = ConversationStore()
    with pytest.raises(InvalidConversationError):
        store.history(bad)


def test_store_is_safe_across_threads(plan_index):
    store = ConversationStore(ConversationConfig(max_conversations=50, max_turns=5))
    turn = converse(plan_index, (), "谁负责近视防控?")

    def work(n: int) -> None:
        for i in range(100):
            store.append(f"c{(n * 7 + i) % 80}", turn)
            store.history(f"c{i % 80}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) <= 50
    assert all(len(store.history(f"c{i}")) <= 5 for i in range(80))


def test_words_containing_reference_characters_are_not_references(plan_index):
    _, turn = chain(plan_index, "谁负责近视防控?", "其他学校的课后服务谁负责?")
    assert turn.follow_up is FollowUp.NONE
