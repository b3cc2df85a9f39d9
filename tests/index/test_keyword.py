"""The word tokenizer's dictionary loads in the background: made at once, waited for on first use, and
refused (WouldWait) where waiting is not allowed."""

from __future__ import annotations

import pytest

from index import keyword
from index.keyword import WordTokenizer
from index.waiting import WouldWait, no_waiting


def test_the_dictionary_loads_in_the_background_and_is_waited_for():
    with keyword._BASE_LOCK:  # hold jieba's base dictionary back: the tokenizer cannot have loaded yet
        tokenizer = WordTokenizer(["基教科"])
        assert not tokenizer.loaded
        with no_waiting(), pytest.raises(WouldWait, match="dictionary"):
            tokenizer.words("基教科负责哪些任务")
    assert tokenizer.phrases("基教科负责近视防控") == ["基教科", "近视", "防控"]  # waits, then answers
    assert tokenizer.loaded
    with no_waiting():
        assert tokenizer.phrases("基教科") == ["基教科"]


def test_plan_words_stay_with_their_tokenizer():
    plain, named = WordTokenizer(), WordTokenizer(["基教科"])
    assert named.phrases("基教科负责近视防控") == ["基教科", "近视", "防控"]
    assert plain.phrases("基教科负责近视防控") == ["基", "教科", "近视", "防控"]  # jieba alone splits the name
