"""The token bucket, once: ``capacity`` tokens, refilled at ``per_second``; each request takes one.

The memory and SQLite stores run ``refill`` inside their own atomic step; Redis runs the same arithmetic as a
Lua script (``rag/state/redis.py``), and the shared store tests check that every backend gives the same waits.
"""

from __future__ import annotations


def refill(
    state: tuple[float, float] | None, capacity: float, per_second: float, now: float, consume: bool
) -> tuple[float, tuple[float, float], float]:
    """(seconds to wait, the new (tokens, at), seconds until the bucket is full again) from the stored
    ``state`` (None: a full bucket). A clock that steps back (or another machine's, a little behind) adds
    nothing, and the bucket keeps the latest time it has seen, so catching up adds nothing either."""
    tokens, at = state if state is not None else (capacity, now)
    tokens = min(capacity, tokens + max(0.0, now - at) * per_second)
    wait = 0.0 if tokens >= 1 else (1 - tokens) / per_second
    if consume and tokens >= 1:
        tokens -= 1
    return wait, (tokens, max(at, now)), (capacity - tokens) / per_second


def encode(state: tuple[float, float]) -> str:
    return f"{state[0]!r} {state[1]!r}"


def decode(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    tokens, at = text.split()
    return float(tokens), float(at)
