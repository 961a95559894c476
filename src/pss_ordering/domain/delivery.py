"""What happens after each attempt to deliver an event to a callback (pure rules).

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
from enum import Enum

#: Longest ``Retry-After`` honoured, so a receiver cannot park a callback for years.
MAX_RETRY_AFTER_SECONDS = 86_400.0
RETRY_AFTER_STATUSES = frozenset({429, 503})


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
