"""Structured logs for operators: one JSON object per line, on stderr.

Two writers, one shape (``time``, ``level``, ``logger``, ``message``, then the fields):
- ``JsonFormatter``: every ``logging`` record of the ``planqa`` loggers (start-up, errors, WeChat, the LLM);
- ``AccessLog``: the one line per request. Once ``configure_logging`` owns stderr (``planqa serve``), the line
  is serialised once with orjson and written straight there — no ``LogRecord`` and no formatter on the hot
  path. Where the host application configures logging itself (an embedding app, the tests), it is a plain
  ``planqa.access`` record like any other, for its handlers. Either way it obeys the logger's level
  (``PLANQA_LOG_LEVEL=warning`` turns it off).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable

import orjson

from rag.service import Reply

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
ACCESS = logging.getLogger("planqa.access")


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(created))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_OWN_STDERR = False  # set by configure_logging: the planqa loggers write JSON lines to stderr, and nothing else


def configure_logging(level: str = "info") -> None:
    global _OWN_STDERR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("planqa")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    _OWN_STDERR = True


def _stderr(line: bytes) -> None:
    """One write per line, so that the lines of several workers do not interleave."""
    stream = sys.stderr
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by something without a descriptor (a test harness)
        stream.write(line.decode())
        return
    os.write(fd, line)


class AccessLog:
    """Writes the per-request line: ``{"time", "level": "info", "logger": "planqa.access", "message":
    "request", "request_id", "method", "route", "path", "status", "latency_ms", …route fields}``.

    Route fields come from ``request.state.log_fields`` (``reply_fields`` below: intent, found, answer mode…);
    a "question" field is dropped unless ``log_questions`` (PLANQA_LOG_QUESTIONS=1), since teachers'
    questions can be personal.
    """

    def __init__(self, log_questions: bool = False, write: Callable[[bytes], None] | None = None) -> None:
        self.log_questions = log_questions
        self.write = write  # where the serialised lines go; None: stderr once configure_logging owns it
        self._second = -1
        self._time = ""

    @staticmethod
    def enabled() -> bool:
        return ACCESS.isEnabledFor(logging.INFO)  # cached by logging until the levels change

    def line(self, fields: dict[str, object]) -> None:
        if not self.log_questions:
            fields.pop("question", None)
        write = self.write or (_stderr if _OWN_STDERR else None)
        if write is None:  # logging is someone else's: a record, for their handlers
            ACCESS.info("request", extra=fields)
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._time = second, _timestamp(now)
        entry = {"time": self._time, "level": "info", "logger": ACCESS.name, "message": "request", **fields}
        try:
            data = orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a field orjson cannot take (an int beyond 64 bits, say): the slow, lenient way
            data = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode()
        try:
            write(data)
        except OSError:  # stderr closed or full: the request has been answered; losing its line must not fail it
            pass


def reply_fields(reply: Reply, question: str) -> dict[str, object]:
    """What the access log line says of an answer (``request.state.log_fields``). The question is dropped
    by the access log unless PLANQA_LOG_QUESTIONS=1."""
    fields: dict[str, object] = {
        "intent": reply.answer.intent.value,
        "found": reply.answer.found,
        "follow_up": reply.follow_up.value,
        "answer_mode": reply.answer.mode.value,
        "question": question,
    }
    if reply.answer.mode_reason:
        fields["answer_mode_reason"] = reply.answer.mode_reason
    if reply.generation is not None:
        fields["llm_ms"] = reply.generation.elapsed_ms
        fields["prompt"] = reply.generation.prompt
    return fields
