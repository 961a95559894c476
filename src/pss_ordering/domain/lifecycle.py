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

from . import field_rights
from .errors import Conflict
from .missing import render_markdown as information_markdown

ITEM_STATES = (
    "pending",
    "acknowledged",
    "inProgress",
    "held",
    "assessingCancellation",
    "pendingCancellation",
    "completed",
    "failed",
    "rejected",
    "cancelled",
    "partial",
)
ORDER_STATES = ("draft", *ITEM_STATES)
FINAL_STATES = frozenset({"completed", "cancelled", "rejected", "failed", "partial"})
WORK_STARTED = frozenset({"inProgress", "held", "completed", "failed"})
CANCELLING = frozenset({"assessingCancellation", "pendingCancellation"})

#: What a provider may do with one of its items, by the item's current state.
#: ``assessingCancellation`` may also return to the state it had before (refusal).
PROVIDER_ITEM_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"acknowledged", "inProgress", "held", "rejected", "completed", "failed"}),
    "acknowledged": frozenset({"inProgress", "held", "pending", "completed", "failed", "rejected"}),
    "inProgress": frozenset({"held", "pending", "completed", "failed"}),
    "held": frozenset({"inProgress", "pending", "completed", "failed"}),
    "assessingCancellation": frozenset({"pendingCancellation", "(previous state)"}),
    "pendingCancellation": frozenset(),
}
#: What the customer (or the PSS that created the order) may ask of the order.
CUSTOMER_ORDER_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"acknowledged", "cancelled"}),
    "pending": frozenset({"cancelled"}),
    "acknowledged": frozenset({"cancelled"}),
    "inProgress": frozenset({"cancelled"}),
    "held": frozenset({"cancelled"}),
}
#: Moves only the PSS makes, as consequences (for the record and the diagram).
PSS_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"pending"}),
    "pending": frozenset({"cancelled", "rejected"}),
    "pendingCancellation": frozenset({"cancelled"}),
}


@dataclass(frozen=True, slots=True)
class ItemStatus:
    state: str
    acknowledged: bool


def derive(items: Iterable[ItemStatus]) -> str:
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
        return "pending"
    present = set(states)
    if present == {"completed"}:
        return "completed"
    if present == {"failed"}:
        return "failed"
    if present <= {"completed", "failed"}:
        return "partial"
    if "rejected" in present:
        return "rejected"
    if "assessingCancellation" in present:
        return "assessingCancellation"
    if "pendingCancellation" in present:
        return "pendingCancellation"
    if "cancelled" in present:
        return "cancelled"
    if any(not s.acknowledged for s in statuses):
        return "pending"
    if "inProgress" in present or present & {"completed", "failed"}:
        return "inProgress"
    if "held" in present:
        return "held"
    if "pending" in present:
        return "pending"
    return "acknowledged"


def check_provider_move(item_id: str, current: str, requested: str, previous: str | None) -> None:
    """Refuse (409) an item move that the provider table does not allow."""
    allowed = PROVIDER_ITEM_TRANSITIONS.get(current, frozenset())
    if requested in allowed or (
        current == "assessingCancellation" and previous is not None and requested == previous
    ):
        return
    shown = sorted(previous if a == "(previous state)" and previous else a for a in allowed)
    raise Conflict(
        f"productOrderItem '{item_id}' is {current}; it cannot move to {requested}"
        + (f" (allowed: {', '.join(shown)})" if shown else " (no provider move is allowed)")
    )


def check_customer_move(current: str, requested: str) -> None:
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
        ("provider", PROVIDER_ITEM_TRANSITIONS),
        ("customer", CUSTOMER_ORDER_TRANSITIONS),
        ("pss", PSS_TRANSITIONS),
    ):
        for src, targets in table.items():
            for dst in sorted(targets):
                if dst != "(previous state)":
                    lines.append(f"    {src} --> {dst}: {who}")
    lines += ["```", "", *information_markdown()]
    return "\n".join(lines)


def _docstring_lines(doc: str) -> list[str]:
    return textwrap.dedent(doc.split("\n", 1)[1]).strip().splitlines()


if __name__ == "__main__":
    print(render_markdown(), end="")
