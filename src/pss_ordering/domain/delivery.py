"""Delivering an event to a callback: what is sent, and what happens after each attempt
(pure rules and plain values; the store keeps them, the worker acts on them).

PSI-01-02-03-06: rejected events are re-dispatched with exponential back-off;
PSI-01-02-03-07: after the last retry the callback is halted until someone
resumes it; PSI-01-02-03-08: a callback's events go out in their original
order, so a failing event holds back the ones behind it.

Success is a 2xx. 410 Gone disables the callback (the receiver says it will
never want more). Anything else, a redirect included (redirects are not
followed), is a failure that waits for the next step of the schedule, with
jitter, or longer when a 429/503 says ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .notifications import StoredEvent
from .timestamps import format_instant

#: Longest ``Retry-After`` honoured, so a receiver cannot park a callback for years.
MAX_RETRY_AFTER_SECONDS = 86_400.0
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class Lane:
    """A callback a worker holds the lease of, with what sending to it needs.

    ``failures``: how often its head event has failed so far, where the retry
    schedule goes on from.
    """

    subscription_id: str
    callback: str
    secret: str
    failures: int


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """An event not yet accepted by one callback, to be rendered for ``audience``.

    ``id`` is the order a callback's deliveries go out in (their commit order).
    """

    id: int
    event_seq: int
    audience: str
    event: StoredEvent


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the receiver answered (``status``, and the start of a refusal's body in
    ``answer``), or why there was no answer (``error``)."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0
    answer: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str | None:
        """The error shown in the callback's health, or None for a success."""
        if self.ok:
            return None
        if self.error:
            return self.error
        return f"HTTP {self.status}"


class Next(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    HALT = "halt"
    DISABLE = "disable"


@dataclass(frozen=True, slots=True)
class Step:
    next: Next
    failures: int
    delay: float = 0.0

    @property
    def state(self) -> str:
        """The callback's state after this step."""
        return {Next.HALT: "halted", Next.DISABLE: "disabled"}.get(self.next, "active")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``schedule``: seconds to wait before each retry; after the last, the callback halts."""

    schedule: Sequence[float]
    jitter: float = 0.2

    def after(self, result: SendResult, failures: int, rand: Callable[[], float]) -> Step:
        """The next step, given the result and the head event's failures before it."""
        if result.ok:
            return Step(Next.DELIVERED, 0)
        if result.status == 410:
            return Step(Next.DISABLE, failures + 1)
        failures += 1
        if failures > len(self.schedule):
            return Step(Next.HALT, failures)
        delay = self.schedule[failures - 1] * (1 + self.jitter * (2 * rand() - 1))
        if result.status in RETRY_AFTER_STATUSES and result.retry_after is not None:
            delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER_SECONDS))
        return Step(Next.RETRY, failures, max(delay, 0.0))


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one send did, and what it means for the delivery and its callback.

    ``state`` is the callback's state afterwards (``active``, ``halted``,
    ``disabled``); ``retry_at`` is set while the head event waits for its retry.
    """

    delivery_id: int
    subscription_id: str
    attempted_at: str
    status: int | None
    error: str | None
    duration_ms: int
    delivered: bool
    state: str = "active"
    failures: int = 0
    retry_at: str | None = None

    @classmethod
    def of(
        cls, delivery: PendingDelivery, lane: Lane, result: SendResult, step: Step, now: datetime
    ) -> Attempt:
        """The record of a send made ``now`` and of the step it led to."""
        retry_at = now + timedelta(seconds=step.delay) if step.next is Next.RETRY else None
        return cls(
            delivery_id=delivery.id,
            subscription_id=lane.subscription_id,
            attempted_at=format_instant(now),
            status=result.status,
            error=result.describe(),
            duration_ms=result.duration_ms,
            delivered=step.next is Next.DELIVERED,
            state=step.state,
            failures=step.failures,
            retry_at=None if retry_at is None else format_instant(retry_at),
        )
