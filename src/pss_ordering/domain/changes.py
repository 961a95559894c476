"""Who may change what in an existing order (PATCH, and later provider events).

A change is judged by comparing the order as the caller saw it with the order
as the caller wants it: every differing field must be one the caller's role
owns. The accepted differences are then written into the full document, so a
provider that only sees its own items can never touch another provider's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import BusinessRuleViolation, Conflict, Forbidden, NotFound
from .events import OrderValuesChanged
from .identity import Role
from .orders import FINAL_STATES, ProductOrder, check_dates, check_priority
from .parties import Party
from .visibility import ITEM_REFERENCING_LISTS, Access, Viewer, access

CUSTOMER_FIELDS = frozenset(
    {
        "billingAccount",
        "note",
        "notificationContact",
        "requestedStartDate",
        "requestedCompletionDate",
        "description",
        "externalId",
        "priority",
    }
)
PROVIDER_FIELDS = frozenset(
    {"expectedCompletionDate", "productOrderErrorMessage", "productOrderMilestone", "note"}
)
APPEND_ONLY = frozenset({"note"})
REPLACEMENT_FIELDS = frozenset({"product", "productOffering", "action", "quantity"})
IGNORED = frozenset({"href"})


def apply_changes(
    viewer: Viewer,
    order: ProductOrder,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    customer: Party | None,
    now: str,
) -> bool:
    """Write the caller's permitted changes into ``order``; return whether anything changed."""
    if access(viewer, order) is Access.NONE:
        raise NotFound(f"productOrder '{order.id}' not found")
    as_owner = is_owner(viewer, order)
    if not as_owner and viewer.party_id not in order.provider_ids:
        raise Forbidden("governance may read and delete orders but not update them")
    if order.state in FINAL_STATES:
        raise Conflict(
            f"order '{order.id}' is {order.state}, a final state; it can no longer be updated"
        )
    allowed = CUSTOMER_FIELDS if as_owner else PROVIDER_FIELDS
    append_only = APPEND_ONLY if as_owner else APPEND_ONLY | set(ITEM_REFERENCING_LISTS)
    changed = sorted(
        key
        for key in set(before) | set(after)
        if key not in IGNORED and key != "productOrderItem" and before.get(key) != after.get(key)
    )
    appended: dict[str, list[Any]] = {}
    for key in changed:
        if key not in allowed:
            raise Forbidden(f"field '{key}' cannot be changed by this caller")
        if key in append_only:
            appended[key] = _appended(key, before.get(key), after.get(key))
        if key in ITEM_REFERENCING_LISTS and not as_owner:
            _check_own_items(key, appended[key], viewer.party_id, order)
    if "priority" in changed:
        check_priority(after, customer)
    if {"requestedStartDate", "requestedCompletionDate"} & set(changed):
        check_dates(after, "requestedStartDate", "requestedCompletionDate")
    _check_items(before.get("productOrderItem") or [], after.get("productOrderItem") or [])
    if not changed:
        return False
    for key in changed:
        if key in appended:
            order.doc[key] = [*(order.doc.get(key) or []), *appended[key]]
        elif key in after:
            order.doc[key] = after[key]
        else:
            order.doc.pop(key, None)
    order.events.append(
        OrderValuesChanged(order_id=order.id, occurred_at=now, details={"fields": changed})
    )
    return True


def is_owner(viewer: Viewer, order: ProductOrder) -> bool:
    """The order's customer (or an organisation representing it), or the PSS that made it."""
    caller = viewer.caller
    return (caller.has(Role.CUSTOMER) and order.customer_id in viewer.represented) or (
        caller.has(Role.PSS) and order.creator_id == caller.party_id
    )


def _appended(key: str, old: Any, new: Any) -> list[Any]:
    """The entries added at the end of an append-only list (existing ones must not change)."""
    old_list = list(old or [])
    new_list = list(new or [])
    if new_list[: len(old_list)] != old_list:
        raise Forbidden(f"field '{key}' is append-only: existing entries cannot change")
    return new_list[len(old_list) :]


def _check_own_items(key: str, entries: list[Any], provider_id: str, order: ProductOrder) -> None:
    """A provider's messages, milestones and alerts must be about its own items only."""
    mine = {item for item, owner in order.item_providers.items() if owner == provider_id}
    for entry in entries:
        refs = entry.get("productOrderItem") if isinstance(entry, dict) else None
        ids = [ref.get("productOrderItemId") for ref in refs or [] if isinstance(ref, dict)]
        if not ids or any(item_id not in mine for item_id in ids):
            raise Forbidden(
                f"'{key}' entries from a provider must reference its own items "
                "(productOrderItem[].productOrderItemId)"
            )


def _check_items(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    old = {item.get("id"): item for item in before}
    new = {item.get("id"): item for item in after}
    if old.keys() != new.keys():
        raise BusinessRuleViolation(
            "order items cannot be added or removed; create a new order that replaces this one"
        )
    for item_id, item in new.items():
        previous = old[item_id]
        for key in sorted(set(item) | set(previous)):
            if key in IGNORED or item.get(key) == previous.get(key):
                continue
            if key in REPLACEMENT_FIELDS:
                raise BusinessRuleViolation(
                    f"productOrderItem '{item_id}'.{key} cannot be changed; "
                    "create a new order that replaces this one"
                )
            raise Forbidden(f"field 'productOrderItem.{key}' cannot be changed by this caller")
