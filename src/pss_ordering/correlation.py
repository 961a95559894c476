"""The request id: which request (or which stored work it caused) a log line belongs to.

An HTTP request gets one (its ``X-Request-ID`` when well formed, else a new one);
the events it commits store it as their *correlation id*, and the timers it arms
keep it too, so the delivery of those events and the firing of those timers —
later, in another thread, process or node — log under the same id.

It lives in a :mod:`contextvars` variable: set at the edge (the request's ASGI
middleware, the delivery of one event, the firing of one timer) and read by the
log records (``logs.py``) and by whatever stores it (publishing, timers). Work
handed to another thread takes the context along (``service/execution.py``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

# What a client's X-Request-ID may be: what proxies and tracing systems send (UUIDs,
# hex trace ids, ``Root=1-...`` AWS ids without the '='), bounded so it fits a column.
MAX_LENGTH = 64
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")


@dataclass(slots=True)
class RequestContext:
    """What the log records of one request (or one piece of caused work) carry."""

    request_id: str
    party_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("pss_request", default=None)


def new_id() -> str:
    """32 random hex digits (a UUID's length; made without building a UUID, as every
    request without an id of its own needs one)."""
    return secrets.token_hex(16)


def accepted(value: str | None) -> str | None:
    """The client's id if it is well formed (1-64 of ``A-Z a-z 0-9 . _ : -``), else None."""
    if value is not None and _WELL_FORMED.fullmatch(value):
        return value
    return None


def current() -> RequestContext | None:
    return _current.get()


def current_id() -> str | None:
    context = _current.get()
    return None if context is None else context.request_id


def set_party(party_id: str) -> None:
    """The authenticated party of the running request, for its access record."""
    context = _current.get()
    if context is not None:
        context.party_id = party_id


@contextmanager
def bound(request_id: str | None) -> Iterator[RequestContext | None]:
    """Run a block under ``request_id`` (None: under no id, e.g. work stored before ids)."""
    context = None if request_id is None else RequestContext(request_id)
    token = enter(context)
    try:
        yield context
    finally:
        leave(token)


def enter(context: RequestContext | None) -> Token[RequestContext | None]:
    """:func:`bound`'s first half, for the request edge, which runs once per request and
    has no use for a generator-based context manager's cost: pair with :func:`leave`."""
    return _current.set(context)


def leave(token: Token[RequestContext | None]) -> None:
    _current.reset(token)
