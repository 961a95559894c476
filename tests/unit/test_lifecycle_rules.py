"""The derivation function and transition tables, including seed 001's consistency examples."""

from __future__ import annotations

import pytest

from pss_ordering.domain.errors import Conflict
from pss_ordering.domain.lifecycle import (
    ItemStatus,
    State,
    check_customer_move,
    check_provider_move,
    derive,
)


def _items(*states: str, acknowledged: bool = True) -> list[ItemStatus]:
    return [ItemStatus(State(s), acknowledged) for s in states]


def test_seed_example_in_progress_order() -> None:
    """Seed 001: an order inProgress with items inProgress, pending, held, completed is valid."""
    assert derive(_items("inProgress", "pending", "held", "completed")) == "inProgress"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("completed", "completed"), "completed"),
        (("failed", "failed"), "failed"),
        (("completed", "failed"), "partial"),
        (("rejected", "cancelled"), "rejected"),
        (("assessingCancellation", "pendingCancellation"), "assessingCancellation"),
        (("pendingCancellation", "pendingCancellation"), "pendingCancellation"),
        (("cancelled", "cancelled"), "cancelled"),
        (("acknowledged", "acknowledged"), "acknowledged"),
        (("held", "acknowledged"), "held"),
        (("held", "inProgress"), "inProgress"),
        (("completed", "acknowledged"), "inProgress"),
        (("pending", "acknowledged"), "pending"),
    ],
)
def test_derivation(states: tuple[str, ...], expected: str) -> None:
    assert derive(_items(*states)) == expected


def test_pending_while_any_provider_has_not_acknowledged() -> None:
    statuses = [ItemStatus(State.IN_PROGRESS, True), ItemStatus(State.PENDING, False)]
    assert derive(statuses) == "pending"


def test_disallowed_provider_move_names_current_requested_allowed() -> None:
    with pytest.raises(Conflict) as info:
        check_provider_move("1", State.IN_PROGRESS, "acknowledged", None)
    message = info.value.message
    assert "inProgress" in message and "acknowledged" in message
    assert "allowed: completed, failed, held, pending" in message


def test_refusing_a_cancellation_returns_to_the_previous_state_only() -> None:
    check_provider_move("1", State.ASSESSING_CANCELLATION, "inProgress", "inProgress")
    with pytest.raises(Conflict, match="allowed: inProgress, pendingCancellation"):
        check_provider_move("1", State.ASSESSING_CANCELLATION, "held", "inProgress")


def test_customer_moves() -> None:
    check_customer_move(State.DRAFT, "acknowledged")
    check_customer_move(State.IN_PROGRESS, "cancelled")
    with pytest.raises(Conflict, match="allowed: cancelled"):
        check_customer_move(State.PENDING, "completed")
