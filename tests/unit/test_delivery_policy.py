"""RetryPolicy: what follows each delivery attempt (PSI-01-02-03-06, -07).

Pure rules, with a fake ``rand`` so that jitter is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pss_ordering.domain.delivery import (
    MAX_RETRY_AFTER_SECONDS,
    Attempt,
    Lane,
    Next,
    PendingDelivery,
    RetryPolicy,
    SendResult,
    Step,
)
from pss_ordering.domain.notifications import ORDER_TOPIC, STATE_CHANGE, StoredEvent
from tests.unit.factories import NOW, two_provider_order

SCHEDULE = (10.0, 60.0, 300.0)
POLICY = RetryPolicy(SCHEDULE, jitter=0.2)
FAILED = SendResult(500)


def _mid() -> float:
    return 0.5


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.8), (0.5, 1.0), (0.999_999, 1.2)])
def test_jitter_stays_within_its_bounds_PSI_01_02_03_06(rand: float, factor: float) -> None:
    """Each step varies by at most ``jitter`` either way: spread out, yet on schedule."""
    for failures, base in enumerate(SCHEDULE):
        step = POLICY.after(FAILED, failures, lambda: rand)
        assert step.next is Next.RETRY
        assert step.failures == failures + 1
        assert step.delay == pytest.approx(base * factor, rel=1e-5)


def test_halts_after_the_last_scheduled_retry_PSI_01_02_03_07() -> None:
    """One first attempt plus one retry per schedule step; the failure after that halts."""
    failures = 0
    delays = []
    for _ in SCHEDULE:
        step = POLICY.after(FAILED, failures, _mid)
        assert (step.next, step.state) == (Next.RETRY, "active")
        delays.append(step.delay)
        failures = step.failures
    assert delays == list(SCHEDULE)
    halted = POLICY.after(FAILED, failures, _mid)
    assert halted == Step(Next.HALT, len(SCHEDULE) + 1)
    assert halted.state == "halted"


@pytest.mark.parametrize("failures", [0, 2])
def test_gone_disables_at_once_PSI_01_02_03_07(failures: int) -> None:
    """410: the receiver wants nothing more; no retry, whatever the schedule says."""
    step = POLICY.after(SendResult(410), failures, _mid)
    assert (step.next, step.state, step.failures) == (Next.DISABLE, "disabled", failures + 1)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_longer_than_the_step_is_honoured_PSI_01_02_03_06(status: int) -> None:
    step = POLICY.after(SendResult(status, retry_after=120.0), 0, _mid)
    assert (step.next, step.delay) == (Next.RETRY, 120.0)


def test_retry_after_never_shortens_the_schedule_nor_applies_to_other_statuses() -> None:
    """PSI-01-02-03-06: a short Retry-After keeps the schedule; on a 500 it is ignored."""
    assert POLICY.after(SendResult(429, retry_after=1.0), 0, _mid).delay == SCHEDULE[0]
    assert POLICY.after(SendResult(500, retry_after=120.0), 0, _mid).delay == SCHEDULE[0]


def test_retry_after_is_capped_at_a_day_PSI_01_02_03_06() -> None:
    """A receiver cannot park a callback for years with a huge Retry-After."""
    step = POLICY.after(SendResult(503, retry_after=10 * MAX_RETRY_AFTER_SECONDS), 0, _mid)
    assert MAX_RETRY_AFTER_SECONDS == 86_400.0
    assert step.delay == MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize("status", [200, 202, 204, 299])
def test_a_2xx_delivers_and_resets_failures_PSI_01_02_03_06(status: int) -> None:
    step = POLICY.after(SendResult(status), len(SCHEDULE), _mid)
    assert step == Step(Next.DELIVERED, 0)
    assert step.state == "active"


@pytest.mark.parametrize(
    "result",
    [
        SendResult(302, "HTTP 302: redirect"),
        SendResult(None, "timed out after 1s"),
        SendResult(404),
    ],
)
def test_anything_else_is_a_failure_PSI_01_02_03_06(result: SendResult) -> None:
    """Redirects (not followed), no answer at all, other statuses: retried on schedule."""
    step = POLICY.after(result, 0, _mid)
    assert (step.next, step.failures, step.delay) == (Next.RETRY, 1, SCHEDULE[0])
    assert not result.ok
    assert result.describe()


def test_an_attempt_records_the_retry_time_and_the_callbacks_state_PSI_01_02_03_06() -> None:
    """What the store keeps of a send: a retry falls due the step's delay after the
    send; a halt or a success waits for nothing, and the callback's state follows."""
    event = StoredEvent("evt-1", ORDER_TOPIC, STATE_CHANGE, NOW, two_provider_order(), {})
    delivery, lane = PendingDelivery(7, 1, "full", event), Lane("sub-1", "https://r", "s", 0)
    sent_at = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    retry = Attempt.of(delivery, lane, FAILED, Step(Next.RETRY, 1, 10.0), sent_at)
    assert (retry.delivery_id, retry.subscription_id) == (7, "sub-1")
    assert (retry.attempted_at, retry.retry_at) == (
        "2026-11-24T12:00:00.000Z",
        "2026-11-24T12:00:10.000Z",
    )
    assert (retry.delivered, retry.state, retry.failures, retry.error) == (
        False,
        "active",
        1,
        "HTTP 500",
    )
    halt = Attempt.of(delivery, lane, FAILED, Step(Next.HALT, 4), sent_at)
    assert (halt.state, halt.retry_at) == ("halted", None)
    done = Attempt.of(delivery, lane, SendResult(204), Step(Next.DELIVERED, 0), sent_at)
    assert (done.delivered, done.state, done.retry_at, done.error) == (True, "active", None, None)
