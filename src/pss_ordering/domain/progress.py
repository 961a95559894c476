"""Moving an order through its lifecycle: the operations behind PATCH, events and timers.

Every operation changes item states (or records what is missing) and then
calls :func:`settle`, which derives the order state, completes or refuses a
cancellation as a whole, stamps dates and records the events. So no path can
leave order and items contradicting each other.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import Conflict
from .events import OrderStateChanged, ReplacementAccepted
from .field_rights import Phase
from .lifecycle import (
    CANCELLING,
    FINAL_STATES,
    WORK_STARTED,
    ItemStatus,
    State,
    check_customer_move,
    check_provider_move,
    derive,
    item_state,
)
from .missing import CODE as MISSING_CODE
from .orders import ProductOrder
from .timestamps import Instant

#: An order in one of these states was accepted by its providers.
ACCEPTED = frozenset(
    {State.ACKNOWLEDGED, State.IN_PROGRESS, State.HELD, State.COMPLETED, State.PARTIAL}
)
OPEN = frozenset({State.PENDING, State.ACKNOWLEDGED, State.IN_PROGRESS, State.HELD})


def order_phase(order: ProductOrder) -> Phase | None:
    """The order's column in the field table (``field_rights``); None once final."""
    if order.state == State.DRAFT:
        return Phase.DRAFT
    if order.state in FINAL_STATES:
        return None
    if order.state in CANCELLING:
        return Phase.CANCELLING
    started = any(s.state in WORK_STARTED for s in item_statuses(order)) or any(
        state in WORK_STARTED for state in order.resume.values()
    )
    return Phase.STARTED if started else Phase.SUBMITTED


def item_phase(order: ProductOrder, item_id: str) -> Phase | None:
    """One submitted item's column in the item field table; None once final.

    An item waiting for information after its work started counts as started."""
    state = item_state(order.item(item_id))
    if state in FINAL_STATES:
        return None
    if state in CANCELLING:
        return Phase.CANCELLING
    if state in WORK_STARTED or order.resume.get(item_id) in WORK_STARTED:
        return Phase.STARTED
    return Phase.SUBMITTED


def item_statuses(order: ProductOrder) -> list[ItemStatus]:
    return [ItemStatus(item_state(item), item["id"] in order.acknowledged) for item in order.items]


def move_items(
    order: ProductOrder, provider_id: str, moves: Mapping[str, str], now: Instant
) -> bool:
    """A provider moves its items (by PATCH or by event); 409 for a move the table refuses.

    Returns whether any item changed state.
    """
    moved = False
    for item_id, requested in moves.items():
        if order.item_providers.get(item_id) != provider_id:
            raise Conflict(f"productOrderItem '{item_id}' is not this provider's item")
        current = item_state(order.item(item_id))
        if requested == current:
            continue
        check_provider_move(item_id, current, requested, order.resume.get(item_id))
        if requested == State.REJECTED and any(
            s.state in WORK_STARTED for s in item_statuses(order)
        ):
            raise Conflict(
                f"work has started on this order; productOrderItem '{item_id}' can no longer "
                "be rejected (allowed instead: failed)"
            )
        if current == State.ASSESSING_CANCELLATION and requested != State.PENDING_CANCELLATION:
            _refuse_cancellation(order)
        if current == State.PENDING and requested not in CANCELLING:
            order.acknowledged.setdefault(item_id, now)
        if requested == State.PENDING and current in {
            State.ACKNOWLEDGED,
            State.IN_PROGRESS,
            State.HELD,
        }:
            order.resume[item_id] = current
        elif current == State.PENDING:
            order.resume.pop(item_id, None)
        order.item(item_id)["state"] = requested
        moved = True
    if moved:
        settle(order, now)
    return moved


def request_cancellation(order: ProductOrder, reason: str | None, now: Instant) -> None:
    """The customer asks to cancel: at once if nobody acknowledged, else providers assess."""
    check_customer_move(order.state, State.CANCELLED)
    if reason:
        order.doc["cancellationReason"] = reason
    if order.state == State.DRAFT or not order.acknowledged:
        cancel(order, reason, now)
        return
    for item in order.items:
        state = item_state(item)
        if state in OPEN:
            order.resume[item["id"]] = state
            acknowledged = item["id"] in order.acknowledged
            item["state"] = (
                State.ASSESSING_CANCELLATION if acknowledged else State.PENDING_CANCELLATION
            )
    settle(order, now)


def cancel(order: ProductOrder, reason: str | None, now: Instant) -> None:
    """Cancel the whole order and all its open items together (never one item alone)."""
    for item in order.items:
        if item.get("state", State.PENDING) not in FINAL_STATES:
            item["state"] = State.CANCELLED
    if reason:
        order.doc["cancellationReason"] = reason
    order.doc["cancellationDate"] = now
    order.keep_missing([], now)
    settle(order, now)


def _refuse_cancellation(order: ProductOrder) -> None:
    """One provider refuses: the cancellation fails as a whole; items return to their state."""
    for item in order.items:
        if item.get("state") in CANCELLING:
            item["state"] = order.resume.pop(item["id"], State.PENDING)
    order.doc.pop("cancellationReason", None)


def resolve_supplied(order: ProductOrder, now: Instant) -> None:
    """Drop what has been supplied; when nothing is missing, items resume where they were."""
    if not order.missing:
        return
    still = []
    for missing in order.missing:
        resource = order.doc if missing.item_id is None else _item_or_none(order, missing.item_id)
        if resource is None or not missing.supplied_by(resource):
            still.append(missing)
    if len(still) == len(order.missing):
        return
    order.keep_missing(still, now)
    open_paths = {(m.item_id, m.field_path) for m in still}
    order.doc["productOrderErrorMessage"] = [
        entry
        for entry in order.doc.get("productOrderErrorMessage") or []
        if entry.get("code") != MISSING_CODE or (_entry_key(entry) in open_paths)
    ]
    if not order.doc["productOrderErrorMessage"]:
        del order.doc["productOrderErrorMessage"]
    if not still:
        for item in order.items:
            if item.get("state") == State.PENDING and item["id"] in order.resume:
                item["state"] = order.resume.pop(item["id"])
    settle(order, now)


def _entry_key(entry: Mapping[str, object]) -> tuple[str | None, object]:
    refs = entry.get("productOrderItem")
    first = refs[0] if isinstance(refs, list) and refs else None
    item_id = first.get("productOrderItemId") if isinstance(first, dict) else None
    return item_id, entry.get("message")


def _item_or_none(order: ProductOrder, item_id: str) -> dict[str, object] | None:
    return next((i for i in order.items if i.get("id") == item_id), None)


def settle(order: ProductOrder, now: Instant) -> None:
    """Derive the order state from the items and apply what the new state implies."""
    statuses = item_statuses(order)
    if order.state == State.DRAFT and any(s.state != State.CANCELLED for s in statuses):
        return
    unfinished = [s for s in statuses if s.state not in FINAL_STATES]
    if unfinished and all(s.state == State.PENDING_CANCELLATION for s in unfinished):
        for item in order.items:
            if item.get("state") == State.PENDING_CANCELLATION:
                item["state"] = State.CANCELLED
                order.resume.pop(item["id"], None)
        order.doc["cancellationDate"] = now
        statuses = item_statuses(order)
    if any(s.state == State.REJECTED for s in statuses):
        for item in order.items:
            if item.get("state") not in FINAL_STATES:
                item["state"] = State.CANCELLED
        statuses = item_statuses(order)
    previous = order.state
    derived = derive(statuses)
    if derived == previous:
        return
    order.doc["state"] = derived
    if derived in {State.COMPLETED, State.FAILED, State.PARTIAL}:
        order.doc["completionDate"] = now
    if derived in FINAL_STATES:
        order.keep_missing([], now)
    order.events.append(
        OrderStateChanged(
            order_id=order.id, occurred_at=now, details={"from": previous, "to": derived}
        )
    )
    if order.replaces is not None and previous == State.PENDING and derived in ACCEPTED:
        order.events.append(
            ReplacementAccepted(order_id=order.id, occurred_at=now, replaced_id=order.replaces)
        )


def cancel_replaced(old: ProductOrder, new_id: str, now: Instant) -> None:
    """Cancel the replaced order, naming its replacement, with a back-link to it."""
    if old.state in FINAL_STATES:
        return
    old.doc.setdefault("orderRelationship", []).append(
        {"@type": "OrderRelationship", "relationshipType": "replacedBy", "id": new_id}
    )
    cancel(old, f"replaced by order {new_id}", now)
