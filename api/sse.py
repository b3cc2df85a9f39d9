"""Server-sent events framing, for ``/ask/stream`` and the streaming ``/v1/chat/completions``."""

from __future__ import annotations

import json

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event; ``data`` as JSON on one line (a string is sent as it is)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"
