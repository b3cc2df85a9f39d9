"""Work that would block, refused where blocking is not allowed.

A server's event loop must not spend 15 ms in the embedding model or wait for a dictionary still loading:
inside ``no_waiting()`` the parts of the knowledge base that would block (a query vector not cached yet, the
word dictionary before it has loaded) raise ``WouldWait`` instead. The caller then does the same work again
from a worker thread, where waiting is fine. Outside the block nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_NO_WAITING: ContextVar[bool] = ContextVar("planqa_no_waiting", default=False)


class WouldWait(Exception):
    """Raised inside ``no_waiting()`` by work that would block; the argument says what."""


@contextmanager
def no_waiting() -> Iterator[None]:
    token = _NO_WAITING.set(True)
    try:
        yield
    finally:
        _NO_WAITING.reset(token)


def refuse_to_wait(what: str) -> None:
    """Raise ``WouldWait(what)`` inside ``no_waiting()``; do nothing elsewhere."""
    if _NO_WAITING.get():
        raise WouldWait(what)
