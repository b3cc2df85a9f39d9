"""Structured logs for operators: one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time

from rag.service import Reply

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("planqa")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def reply_fields(reply: Reply, question: str) -> dict[str, object]:
    """What the access log line says of an answer (``request.state.log_fields``). The question is dropped
    by the middleware unless PLANQA_LOG_QUESTIONS=1."""
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
