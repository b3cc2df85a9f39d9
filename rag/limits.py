"""Every limit and default of answering, in one place.

The library's configs (``rag/``) take their defaults from here, the settings (``config/settings.py``) too, and
the API's schemas read the conversation-id pattern from here: change a value here and it changes everywhere.
"""

from __future__ import annotations

import re

MAX_QUESTION_CHARS = 500  # longest question, counted in characters (PLANQA_MAX_QUESTION_CHARS)
TOP_K = 3  # citations per answer (PLANQA_TOP_K)
MAX_TOP_K = 20  # the most citations a caller may ask for
MAX_SUGGESTIONS = 3  # close tasks offered when the plan does not state what was asked
ROUNDUP_GENERIC_SHARE = 0.4  # a round-up word found in more of the tasks than this is too general to select by
ROUNDUP_BROAD_SHARE = 0.15  # a round-up word found in more of the tasks than this selects only the tasks about it:
ROUNDUP_CENTRAL_SHARE = 0.25  # those whose title says it, or that say it this share as often as the one saying most
ANSWER_CACHE_SIZE = 2048  # answers to repeated questions kept per service (and as many whole replies)
QUERY_VECTOR_CACHE_SIZE = 4096  # query vectors kept per service, by topic (1.5 KiB each with a 384-d model)
ANALYSED_QUESTIONS = 256  # query analyses kept per process (rag/query.py): each question is read ~5 times

# A conversation id: 1–128 letters, digits or -_.:@=+/ (a page's random id, a WeChat OpenID, a client's UUID).
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_\-.:@=+/]{1,128}$"
CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)
CONVERSATION_TTL_S = 1800.0  # a conversation is forgotten this long after its last turn
MAX_CONVERSATIONS = 10_000  # conversations kept; the least recently used go first
# Earlier user messages of a /v1 conversation replayed to read a follow-up (PLANQA_MAX_CONVERSATION_TURNS): each
# costs an answer (≈25 ms of CPU uncached), and a follow-up reads the turn before, itself at most a few deep.
MAX_CONVERSATION_TURNS = 4

# The optional LLM step.
LLM_MAX_TOKENS = 160  # longest generated answer; a cut-off last sentence is dropped
LLM_BUDGET_WECHAT_S = 3.5  # inside WeChat's 4.5 s reply window (it drops replies after 5 s)
LLM_BUDGET_WEB_S = 20.0  # /ask, /ask/stream and the page
LLM_BUDGET_OPENAI_S = 30.0  # /v1/chat/completions

# Answers written by the LLM: each holds one of the server's worker threads for up to its budget (api/streams.py).
MAX_LLM_STREAMS = 16  # at once, all clients together (PLANQA_MAX_LLM_STREAMS); the worker thread pool has 40
MAX_STREAMS_PER_CLIENT = 4  # at once per API key, or per client address without one (0: no per-client limit)
STREAMS_RETRY_AFTER_S = 5  # Retry-After of the 503 when either limit is reached

# The plan library (rag/library.py, api/watch.py).
PLANS_POLL_S = 2.0  # how often a server process looks for plans added or removed by another process
