"""The order lifecycle: states, who may move what where, and the order state derived
from its items (PSID622 states; seed 001's consistency rules; brief §3).

Providers move their items; customers submit drafts and ask for cancellation;
the order's own state is never set directly but derived by :func:`derive`
from the item states, so order and items can never contradict each other.
``docs/LIFECYCLE.md`` is generated from the tables in this module and the field
table of ``field_rights`` (``python -m pss_ordering.domain.lifecycle``), and a
test keeps them equal.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import field_rights
from .errors import Conflict
from .identity import Role
from .missing import render_markdown as information_markdown


class State(StrEnum):
    """An order's or an item's state (PSID622); only an order is ever a draft. The wire
    value is the member's value, so documents and SQL columns hold the same text."""

    DRAFT = "draft"
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    HELD = "held"
    ASSESSING_CANCELLATION = "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    PARTIAL = "partial"


ORDER_STATES = tuple(State)
ITEM_STATES = tuple(s for s in State if s is not State.DRAFT)
#: In the provider table: an item assessing a cancellation may return to where it was.
PREVIOUS = "(previous state)"
FINAL_STATES = frozenset(
    {State.COMPLETED, State.CANCELLED, State.REJECTED, State.FAILED, State.PARTIAL}
)
WORK_STARTED = frozenset({State.IN_PROGRESS, State.HELD, State.COMPLETED, State.FAILED})
CANCELLING = frozenset({State.ASSESSING_CANCELLATION, State.PENDING_CANCELLATION})

#: What a provider may do with one of its items, by the item's current state.
#: ``assessingCancellation`` may also return to the state it had before (refusal).
PROVIDER_ITEM_TRANSITIONS: Mapping[State, frozenset[str]] = {
    State.PENDING: frozenset(
        {
            State.ACKNOWLEDGED,
            State.IN_PROGRESS,
            State.HELD,
            State.REJECTED,
            State.COMPLETED,
            State.FAILED,
        }
    ),
    State.ACKNOWLEDGED: frozenset(
        {
            State.IN_PROGRESS,
            State.HELD,
            State.PENDING,
            State.COMPLETED,
            State.FAILED,
            State.REJECTED,
        }
    ),
    State.IN_PROGRESS: frozenset({State.HELD, State.PENDING, State.COMPLETED, State.FAILED}),
    State.HELD: frozenset({State.IN_PROGRESS, State.PENDING, State.COMPLETED, State.FAILED}),
    State.ASSESSING_CANCELLATION: frozenset({State.PENDING_CANCELLATION, PREVIOUS}),
    State.PENDING_CANCELLATION: frozenset(),
}
#: What the customer (or the PSS that created the order) may ask of the order.
CUSTOMER_ORDER_TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.ACKNOWLEDGED, State.CANCELLED}),
    State.PENDING: frozenset({State.CANCELLED}),
    State.ACKNOWLEDGED: frozenset({State.CANCELLED}),
    State.IN_PROGRESS: frozenset({State.CANCELLED}),
    State.HELD: frozenset({State.CANCELLED}),
}
#: Moves only the PSS makes, as consequences (for the record and the diagram).
PSS_TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.PENDING}),
    State.PENDING: frozenset({State.CANCELLED, State.REJECTED}),
    State.PENDING_CANCELLATION: frozenset({State.CANCELLED}),
}


def item_state(item: Mapping[str, Any]) -> State:
    """An item's state; an item that has none yet (in a draft) is pending."""
    return State(item.get("state", State.PENDING))


@dataclass(frozen=True, slots=True)
class ItemStatus:
    state: State
    acknowledged: bool


def derive(items: Iterable[ItemStatus]) -> State:
    """The order state that the item states imply (one documented function).

    1. all completed → completed; all failed → failed; only completed and
       failed → partial;
    2. any rejected → rejected (an order is accepted or refused as a whole);
    3. a cancellation in progress → assessingCancellation, then
       pendingCancellation; all cancelled → cancelled;
    4. otherwise the least advanced open state: pending while any provider has
       not acknowledged; inProgress once work has started (an item in
       progress, or some finished while others are open); held while items are
       held and none progresses; pending while an acknowledged item waits for
       information; else acknowledged.
    """
    statuses = list(items)
    states = [s.state for s in statuses]
    if not states:
        return State.PENDING
    present = set(states)
    if present == {State.COMPLETED}:
        return State.COMPLETED
    if present == {State.FAILED}:
        return State.FAILED
    if present <= {State.COMPLETED, State.FAILED}:
        return State.PARTIAL
    if State.REJECTED in present:
        return State.REJECTED
    if State.ASSESSING_CANCELLATION in present:
        return State.ASSESSING_CANCELLATION
    if State.PENDING_CANCELLATION in present:
        return State.PENDING_CANCELLATION
    if State.CANCELLED in present:
        return State.CANCELLED
    if any(not s.acknowledged for s in statuses):
        return State.PENDING
    if State.IN_PROGRESS in present or present & {State.COMPLETED, State.FAILED}:
        return State.IN_PROGRESS
    if State.HELD in present:
        return State.HELD
    if State.PENDING in present:
        return State.PENDING
    return State.ACKNOWLEDGED


def check_provider_move(item_id: str, current: State, requested: str, previous: str | None) -> None:
    """Refuse (409) an item move that the provider table does not allow."""
    allowed = PROVIDER_ITEM_TRANSITIONS.get(current, frozenset())
    if requested in allowed or (
        current == State.ASSESSING_CANCELLATION and previous is not None and requested == previous
    ):
        return
    shown = sorted(previous if a == PREVIOUS and previous else a for a in allowed)
    raise Conflict(
        f"productOrderItem '{item_id}' is {current}; it cannot move to {requested}"
        + (f" (allowed: {', '.join(shown)})" if shown else " (no provider move is allowed)")
    )


def check_customer_move(current: State, requested: str) -> None:
    allowed = CUSTOMER_ORDER_TRANSITIONS.get(current, frozenset())
    if requested in allowed:
        return
    raise Conflict(
        f"the order is {current}; it cannot be moved to {requested}"
        + (f" (allowed: {', '.join(sorted(allowed))})" if allowed else "")
    )


def render_markdown() -> str:
    """``docs/LIFECYCLE.md``: the tables above and a Mermaid diagram of them."""
    lines = [
        "# Order lifecycle",
        "",
        "Generated from `src/pss_ordering/domain/lifecycle.py` by",
        "`python -m pss_ordering.domain.lifecycle > docs/LIFECYCLE.md`; a test keeps",
        "the two equal. Providers move their items; the customer (or the PSS that",
        "created the order) submits drafts and asks for cancellation; the order's own",
        "state is always derived from its items.",
        "",
        "Order states: " + ", ".join(ORDER_STATES) + ".",
        "",
        "## Deriving the order state from the item states",
        "",
        *_docstring_lines(derive.__doc__ or ""),
        "",
    ]
    for title, table in (
        ("Provider: moves of its own items", PROVIDER_ITEM_TRANSITIONS),
        ("Customer or its PSS: requests on the order", CUSTOMER_ORDER_TRANSITIONS),
        ("PSS: consequences it applies itself", PSS_TRANSITIONS),
    ):
        lines += [f"## {title}", "", "| from | to |", "|---|---|"]
        lines += [f"| {src} | {', '.join(sorted(dst)) or '—'} |" for src, dst in table.items()]
        lines.append("")
    lines += [
        "Final states (no update of any kind is accepted, 409): "
        + ", ".join(sorted(FINAL_STATES))
        + ".",
        "",
        *field_rights.render_markdown(),
        "## Diagram",
        "",
        "```mermaid",
        "stateDiagram-v2",
    ]
    for who, table in (
        (Role.PROVIDER, PROVIDER_ITEM_TRANSITIONS),
        (Role.CUSTOMER, CUSTOMER_ORDER_TRANSITIONS),
        (Role.PSS, PSS_TRANSITIONS),
    ):
        for src, targets in table.items():
            for dst in sorted(targets):
                if dst != PREVIOUS:
                    lines.append(f"    {src} --> {dst}: {who}")
    lines += ["```", "", *information_markdown()]
    return "\n".join(lines)


def _docstring_lines(doc: str) -> list[str]:
    return textwrap.dedent(doc.split("\n", 1)[1]).strip().splitlines()


if __name__ == "__main__":
    print(render_markdown(), end="")
