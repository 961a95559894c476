"""Who may change what in an existing order (PATCH, and provider events).

A change is judged by comparing the order as the caller saw it with the order
as the caller wants it: every differing field must be one the caller's role
owns. The accepted differences are then written into the full document, so a
provider that only sees its own items can never touch another provider's.
State changes go through :mod:`progress`, which applies the lifecycle tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import progress, refusals
from .authorship import EXPECTED, NOTE, PER_PROVIDER_FIELDS, authored
from .catalog import Offering
from .errors import BusinessRuleViolation, Conflict, Forbidden, NotFound
from .events import OrderStateChanged, OrderValuesChanged
from .field_rights import (
    CUSTOMER_FIELDS,
    DRAFT_FIELDS,
    ITEM_FIELD_RIGHTS,
    PROVIDER_FIELDS,
    REQUESTABLE_FIELDS,
    Phase,
    Writer,
    check_writable,
)
from .lifecycle import FINAL_STATES, State, check_customer_move
from .missing import (
    CHARACTERISTIC_PATH,
    Missing,
    is_order_request,
    reported,
    required_but_missing,
)
from .orders import ProductOrder, check_dates, check_priority, owns, validate_items
from .parties import Party
from .problems import Problems
from .related_parties import is_customer
from .timestamps import Instant
from .visibility import ITEM_REFERENCING_LISTS, Access, Viewer, access

APPEND_ONLY = frozenset({"note"})
REPLACEMENT_FIELDS = frozenset({"product", "productOffering", "action", "quantity"})
IGNORED = frozenset({"href"})
LIFECYCLE = frozenset({"state", "cancellationReason"})


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What the rules need from outside: the customer's profile, offerings named."""

    customer: Party | None = None
    offerings: Mapping[str, Offering] = field(default_factory=dict)


def apply_changes(
    viewer: Viewer,
    order: ProductOrder,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    ctx: ChangeContext,
    now: Instant,
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
    changed = changed_fields(before, after)
    if as_owner and order.state == State.DRAFT:
        fields = _edit_draft(order, before, after, changed, ctx, now, viewer.party_id)
    elif as_owner:
        fields = _owner_changes(order, before, after, changed, ctx, now, viewer.party_id)
    else:
        fields = _provider_changes(viewer.party_id, order, before, after, changed, now)
    if fields:
        order.events.append(
            OrderValuesChanged(order_id=order.id, occurred_at=now, details={"fields": fields})
        )
    return bool(order.events)


def is_owner(viewer: Viewer, order: ProductOrder) -> bool:
    """The order's customer (or an organisation representing it), or the PSS that made it."""
    return owns(viewer.caller, viewer.represented, order)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Fields that differ; an absent list and an empty one are the same."""
    return sorted(
        key
        for key in set(before) | set(after)
        if key not in IGNORED
        and before.get(key) != after.get(key)
        and not (before.get(key) in (None, []) and after.get(key) in (None, []))
    )


def _requested_state(before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    state = after.get("state")
    return None if state == before.get("state") else str(state)


def _edit_draft(
    order: ProductOrder,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    changed: list[str],
    ctx: ChangeContext,
    now: Instant,
    author: str,
) -> list[str]:
    """A draft is the customer's to edit freely; submitting it validates it in full."""
    fields = [key for key in changed if key not in LIFECYCLE]
    for key in fields:
        if key not in DRAFT_FIELDS:
            raise Forbidden(f"field '{key}' cannot be changed by this caller")
    _write(order, after, fields, {})
    if NOTE in fields and order.doc.get(NOTE):
        kept = before.get(NOTE) or []
        order.doc[NOTE] = [n if n in kept else authored([n], author)[0] for n in order.doc[NOTE]]
    if "productOrderItem" in fields:
        for index, item in enumerate(order.items):
            if "state" in item:
                raise BusinessRuleViolation(
                    f"productOrderItem[{index}].state is set by the server and cannot be supplied"
                )
        order.item_providers = {
            item["id"]: ctx.offerings[offering].provider_id
            for item in order.items
            if isinstance(offering := (item.get("productOffering") or {}).get("id"), str)
            and offering in ctx.offerings
        }
    requested = _requested_state(before, after)
    if requested == State.ACKNOWLEDGED:
        _submit(order, ctx, now)
    elif requested == State.CANCELLED:
        progress.request_cancellation(order, after.get("cancellationReason"), now)
    elif requested is not None:
        check_customer_move(order.state, requested)
    return fields


def _submit(order: ProductOrder, ctx: ChangeContext, now: Instant) -> None:
    """TMF622 v5 'submit': validated as a new order, then pending for the providers."""
    problems = Problems()
    order.item_providers = validate_items(order.items, ctx.offerings, problems)
    check_dates(order.doc, "requestedStartDate", "requestedCompletionDate", problems)
    check_priority(order.doc, ctx.customer, problems)
    problems.raise_if_any()
    for item in order.items:
        item["state"] = State.PENDING
    order.doc["state"] = State.PENDING
    order.submitted_at = now
    order.events.append(
        OrderStateChanged(
            order_id=order.id, occurred_at=now, details={"from": State.DRAFT, "to": State.PENDING}
        )
    )
    order.record_missing(required_but_missing(order.doc, ctx.offerings), now)


def _owner_changes(
    order: ProductOrder,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    changed: list[str],
    ctx: ChangeContext,
    now: Instant,
    author: str,
) -> list[str]:
    """A submitted order: the owner's fields allowed in the order's phase (field_rights)."""
    phase = progress.order_phase(order) or Phase.SUBMITTED
    fields = [key for key in changed if key not in LIFECYCLE and key != "productOrderItem"]
    # A field the order waits for is writable while it is asked for, in any phase.
    asked = {field for m in order.missing if (field := m.order_field) is not None}
    for key in fields:
        if key not in asked:
            check_writable(Writer.OWNER, key, phase)
    appended = _check_fields(fields, CUSTOMER_FIELDS | asked, before, after)
    if NOTE in appended:
        appended[NOTE] = authored(appended[NOTE], author)
    problems = Problems()
    if "priority" in fields:
        check_priority(after, ctx.customer, problems)
    if {"requestedStartDate", "requestedCompletionDate"} & set(fields):
        check_dates(after, "requestedStartDate", "requestedCompletionDate", problems)
    problems.raise_if_any()
    if "relatedParty" in fields:
        _check_customer_kept(before, after)
    supplied, item_changes = _owner_item_changes(order, before, after)
    requested = _requested_state(before, after)
    if "cancellationReason" in changed and requested != State.CANCELLED:
        raise Forbidden("field 'cancellationReason' is set when requesting a cancellation")
    _write(order, after, fields, appended)
    for item_id, product in supplied.items():
        order.item(item_id)["product"] = product
    for item_id, values in item_changes.items():
        item = order.item(item_id)
        for key, value in values.items():
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value
    refusals.record_changes(order, fields, item_changes)
    if requested == State.CANCELLED:
        progress.request_cancellation(order, after.get("cancellationReason"), now)
    elif requested is not None:
        check_customer_move(order.state, requested)
    progress.resolve_supplied(order, now)
    # Which item fields changed, too (``productOrderItem.<name>``): what a partner PSS
    # relays (``federation.relay_down``), unlike a provider's moves of its items.
    item_fields = {k for values in item_changes.values() for k in values}
    item_fields |= {"product"} if supplied else set()
    named = [f"productOrderItem.{k}" for k in sorted(item_fields)]
    return fields + (["productOrderItem", *named] if item_fields else [])


def _check_customer_kept(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """The owner changes the order's contacts, never whom the order is for."""

    def customers(doc: Mapping[str, Any]) -> list[Any]:
        return [
            rel
            for rel in doc.get("relatedParty") or []
            if not isinstance(rel, Mapping) or is_customer(rel)
        ]

    if customers(before) != customers(after):
        raise Forbidden(
            "field 'relatedParty': the customer of an order cannot change; "
            "contacts in other roles can"
        )


def _owner_item_changes(
    order: ProductOrder, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Item changes an owner may make: the characteristics the order waits for, and the
    item fields of ``ITEM_FIELD_RIGHTS`` allowed in the item's phase (None: removed)."""
    waiting = {
        m.item_id
        for m in order.missing
        if m.item_id is not None and m.field_path.startswith(f"missing={CHARACTERISTIC_PATH}")
    }
    old, new = _items_by_id(before, after)
    supplied: dict[str, Any] = {}
    changes: dict[str, dict[str, Any]] = {}
    for item_id, item in new.items():
        for key in changed_fields(old[item_id], item):
            if (
                key == "product"
                and item_id in waiting
                and _only_characteristics(old[item_id].get("product"), item.get("product"))
            ):
                supplied[str(item_id)] = item["product"]
                continue
            if key not in ITEM_FIELD_RIGHTS or key == "state":
                _refuse_item_change(item_id, key)
            phase = progress.item_phase(order, str(item_id))
            if phase is None:
                raise Conflict(
                    f"productOrderItem '{item_id}' is {order.item(str(item_id)).get('state')}, "
                    "a final state; it can no longer be changed"
                )
            check_writable(Writer.OWNER, key, phase, item_id=str(item_id))
            changes.setdefault(str(item_id), {})[key] = item.get(key)
    problems = Problems()
    positions: dict[Any, int] = {
        item.get("id"): n for n, item in enumerate(after.get("productOrderItem") or [])
    }
    for item_id, values in changes.items():
        if {"requestedStartDate", "requestedEndDate"} & values.keys():
            where: list[str | int] = ["productOrderItem", positions[item_id]]
            check_dates(new[item_id], "requestedStartDate", "requestedEndDate", problems, where)
    problems.raise_if_any()
    return supplied, changes


def _only_characteristics(old: Any, new: Any) -> bool:
    old_rest = {k: v for k, v in (old or {}).items() if k != "productCharacteristic"}
    new_rest = {k: v for k, v in (new or {}).items() if k != "productCharacteristic"}
    return isinstance(new, dict) and old_rest == new_rest


def _provider_changes(
    provider_id: str,
    order: ProductOrder,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    changed: list[str],
    now: Instant,
) -> list[str]:
    fields = [key for key in changed if key not in {"state", "productOrderItem"}]
    phase = progress.order_phase(order) or Phase.SUBMITTED
    for key in fields:
        check_writable(Writer.PROVIDER, key, phase)
    appended = _check_fields(
        fields, PROVIDER_FIELDS, before, after, append_only=set(ITEM_REFERENCING_LISTS)
    )
    for key in ITEM_REFERENCING_LISTS:
        if key in appended:
            entries = [e for e in appended[key] if not is_order_request(e)]
            _check_own_items(key, entries, provider_id, order)
    moves = _item_moves(before, after)
    requested = _requested_state(before, after)
    if requested is not None:
        for item_id in order.items_of(provider_id):
            if order.item(item_id).get("state") not in FINAL_STATES:
                moves.setdefault(item_id, requested)
    found = _requested_information(provider_id, appended.get("productOrderErrorMessage", []))
    for missing in found:
        waiting = (
            [missing.item_id]
            if missing.item_id is not None
            else [
                i
                for i in order.items_of(provider_id)
                if order.item(i).get("state") not in FINAL_STATES
            ]
        )
        if not waiting:
            raise BusinessRuleViolation(
                "none of this provider's items is open: there is nothing to wait for information"
            )
        for item_id in waiting:
            if moves.get(item_id, order.item(item_id).get("state")) != State.PENDING:
                raise BusinessRuleViolation(
                    f"reporting missing information puts productOrderItem '{item_id}' "
                    "in state pending"
                )
    found += refusals.refusals(
        order, provider_id, appended.get("productOrderErrorMessage", []), moves
    )
    if any(state != State.PENDING for state in moves.values()):
        refusals.accepted(order, provider_id)
    # Notes and the expected completion date are the provider's own (authorship.py).
    _write(order, after, [key for key in fields if key not in PER_PROVIDER_FIELDS], appended)
    order.authorship.add_notes(order.doc, provider_id, appended.get(NOTE, []))
    if EXPECTED in fields:
        order.authorship.expect(order.doc, provider_id, after.get(EXPECTED))
    if progress.move_items(order, provider_id, moves, now):
        fields = [*fields, "productOrderItem"]
    order.record_missing(found, now)
    return fields


def _requested_information(provider_id: str, entries: list[Any]) -> list[Missing]:
    """The information a provider's new error messages ask for: about its items (which
    ``_check_own_items`` made sure are its own), or about the order itself, a field
    its customer can supply (``REQUESTABLE_FIELDS``), concerning this provider."""
    found: list[Missing] = []
    for entry in entries:
        try:
            names = reported(entry)
        except ValueError as exc:
            raise BusinessRuleViolation(f"productOrderErrorMessage: {exc}") from None
        if names is None:
            continue
        item_ids, field_path = names
        if item_ids:
            found.extend(Missing(i, field_path, provider_id) for i in item_ids)
            continue
        missing = Missing(None, field_path, provider_id, frozenset({provider_id}))
        if missing.order_field not in REQUESTABLE_FIELDS:
            raise BusinessRuleViolation(
                f"productOrderErrorMessage: the order's '{missing.order_field}' is not "
                "information its customer supplies; ask for one of "
                + ", ".join(sorted(REQUESTABLE_FIELDS))
                + " (or name the item: productOrderItem[].productOrderItemId)"
            )
        found.append(missing)
    return found


def _item_moves(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    old, new = _items_by_id(before, after)
    moves: dict[str, str] = {}
    for item_id, item in new.items():
        for key in changed_fields(old[item_id], item):
            if key != "state":
                _refuse_item_change(item_id, key)
            moves[str(item_id)] = str(item.get("state"))
    return moves


def _items_by_id(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Items before and after by id; the set of items itself must not change."""
    old = {item.get("id"): item for item in before.get("productOrderItem") or []}
    new = {item.get("id"): item for item in after.get("productOrderItem") or []}
    if old.keys() != new.keys():
        raise BusinessRuleViolation(
            "order items cannot be added or removed; create a new order that replaces this one"
        )
    return old, new


def _refuse_item_change(item_id: Any, key: str) -> None:
    if key in REPLACEMENT_FIELDS:
        raise BusinessRuleViolation(
            f"productOrderItem '{item_id}'.{key} cannot be changed; "
            "create a new order that replaces this one"
        )
    raise Forbidden(f"field 'productOrderItem.{key}' cannot be changed by this caller")


def _check_fields(
    fields: list[str],
    allowed: frozenset[str],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    append_only: set[str] | None = None,
) -> dict[str, list[Any]]:
    """Refuse fields outside ``allowed``; return what was appended to append-only lists."""
    appended: dict[str, list[Any]] = {}
    for key in fields:
        if key not in allowed:
            raise Forbidden(f"field '{key}' cannot be changed by this caller")
        if key in APPEND_ONLY or key in (append_only or set()):
            appended[key] = _appended(key, before.get(key), after.get(key))
    return appended


def _write(
    order: ProductOrder,
    after: Mapping[str, Any],
    fields: list[str],
    appended: Mapping[str, list[Any]],
) -> None:
    for key in fields:
        if key in appended:
            order.doc[key] = [*(order.doc.get(key) or []), *appended[key]]
        elif key in after:
            order.doc[key] = after[key]
        else:
            order.doc.pop(key, None)


def _appended(key: str, old: Any, new: Any) -> list[Any]:
    """The entries added at the end of an append-only list (existing ones must not change)."""
    old_list = list(old or [])
    new_list = list(new or [])
    if new_list[: len(old_list)] != old_list:
        raise Forbidden(f"field '{key}' is append-only: existing entries cannot change")
    return new_list[len(old_list) :]


def _check_own_items(key: str, entries: list[Any], provider_id: str, order: ProductOrder) -> None:
    """A provider's messages, milestones and alerts must be about its own items only."""
    mine = set(order.items_of(provider_id))
    for entry in entries:
        refs = entry.get("productOrderItem") if isinstance(entry, dict) else None
        ids = [ref.get("productOrderItemId") for ref in refs or [] if isinstance(ref, dict)]
        if not ids or any(item_id not in mine for item_id in ids):
            raise Forbidden(
                f"'{key}' entries from a provider must reference its own items "
                "(productOrderItem[].productOrderItemId)"
            )
