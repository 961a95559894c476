"""Events received from providers and other PSSs, read as the change they ask for.

TOD security text: received events are processed under the same conditions as
the API. So an order event becomes the order as its sender wants to see it,
which then goes through exactly the rules of a PATCH (``changes.py``). An
event carries the entity, possibly in part: items are matched by id (items it
does not mention stay as they are) and lists the sender may only append to
(notes, messages, milestones, alerts) gain the entries that are new.

Another PSS also *creates* orders by event (TOD-03-02's "Other PSS" column,
``(✓)``: carried out via events, TOD-01-02): an ``orderCreationNotification``
carries the order as a POST body would, plus the sender's own ``id`` for it.
:func:`new_order_body` turns it into that POST body, keeping the sender's id
as an ``externalId`` owned by the sender; this PSS's own id is the order's id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BusinessRuleViolation, Forbidden, InvalidBody
from .identity import Caller, Role
from .lifecycle import FINAL_STATES, State
from .missing import CODE, parse_field_path
from .notifications import (
    CREATION,
    INFORMATION_REQUIRED,
    REMOVAL,
    SEED_EVENT_NAMES,
    STATE_CHANGE,
    VALUE_CHANGE,
)

APPLIED_TYPES = (CREATION, STATE_CHANGE, VALUE_CHANGE, INFORMATION_REQUIRED)
#: Read from a partner PSS only: it removed its copy of an order forwarded to it.
READ_TYPES = (*APPLIED_TYPES, REMOVAL)
#: What the sender's copy of an order carries that a new order's creator does not write.
SENDER_ONLY = frozenset({"id", "href"})
EXTERNAL_ID_TYPE = "ProductOrder"
APPEND_ONLY_LISTS = frozenset(
    {"note", "productOrderErrorMessage", "productOrderMilestone", "productOrderJeopardyAlert"}
)
NOT_CHANGES = frozenset({"id", "href", "@type", "@baseType", "@schemaLocation"})
#: Set by the receiving PSS on every note (``authorship.py``): a note sent again with
#: another author, or none, is the same note.
NOTE_AUTHOR = "author"
_RESOURCE_PATH = re.compile(
    r"^/(?:productOrder|order)/(?P<order>[^/]+)"
    r"(?:/(?:productOrderItem|orderItem)/(?P<item>[^/]+))?$"
)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: str
    event_type: str
    order_id: str
    resource: Mapping[str, Any]
    resource_path: str | None = None
    field_path: str | None = None


def read_order_event(body: Mapping[str, Any]) -> OrderEvent:
    """The parts of a received ``Event`` that ordering acts on; 400/422 when missing."""
    event_id = body.get("eventId")
    if not isinstance(event_id, str) or not event_id.strip():
        raise InvalidBody("'eventId' is required: it makes a received event apply only once")
    raw_type = str(body.get("eventType") or "")
    event_type = SEED_EVENT_NAMES.get(raw_type, raw_type)
    if event_type not in READ_TYPES:
        raise not_applied(raw_type)
    resource = (body.get("event") or {}).get("productOrder")
    if not isinstance(resource, Mapping) or not isinstance(resource.get("id"), str):
        raise BusinessRuleViolation(
            "event.productOrder.id is required to name the order (for a creation: the "
            "sender's id for it)"
        )
    if not resource["id"].strip():
        raise BusinessRuleViolation("event.productOrder.id must not be blank")
    resource_path = body.get("resourcePath")
    field_path = body.get("fieldPath")
    if event_type == INFORMATION_REQUIRED and not (
        isinstance(resource_path, str) and isinstance(field_path, str)
    ):
        raise BusinessRuleViolation(
            "an orderInformationRequiredNotification needs resourcePath and fieldPath"
        )
    return OrderEvent(
        event_id.strip(),
        event_type,
        resource["id"],
        resource,
        resource_path if isinstance(resource_path, str) else None,
        field_path if isinstance(field_path, str) else None,
    )


def not_applied(event_type: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"eventType '{event_type}' is not applied to orders; use one of "
        + ", ".join(APPLIED_TYPES)
        + " (or their TMF622 names)"
    )


def check_may_create_by_event(caller: Caller) -> None:
    """Creation by event is the other PSS's way (TOD-03-02: ``(✓)``, via events); a
    customer creates with POST, a provider never creates (403, as POST answers it)."""
    if not caller.has(Role.PSS):
        raise Forbidden(
            "only another PSS creates product orders by event; customers create them with "
            "POST /productOrder, providers do not create orders"
        )


def new_order_body(event: OrderEvent, sender_id: str) -> dict[str, Any]:
    """The POST body a creation event stands for: the carried order without the sender's
    ``id``/``href``, with the sender's id first among its ``externalId`` entries (TMF:
    most recent system first), owned by the sender. Any entry the sender already gave
    for itself is replaced, so the order holds one id per owner."""
    body = {k: v for k, v in event.resource.items() if k not in SENDER_ONLY}
    given = body.get("externalId", [])
    if not isinstance(given, list):
        return body  # the create schema refuses it, naming the field, as for a POST
    others = [
        entry
        for entry in given
        if not (isinstance(entry, Mapping) and entry.get("owner") == sender_id)
    ]
    body["externalId"] = [
        {
            "@type": "ExternalIdentifier",
            "id": event.order_id,
            "owner": sender_id,
            "externalIdentifierType": EXTERNAL_ID_TYPE,
        },
        *others,
    ]
    return body


def owned_external_id(doc: Mapping[str, Any], owner: str) -> str | None:
    """The id ``owner`` gave an order (its externalId entry), if it gave one."""
    for entry in doc.get("externalId") or []:
        if isinstance(entry, Mapping) and entry.get("owner") == owner:
            found = entry.get("id")
            return found if isinstance(found, str) else None
    return None


def patcher(event: OrderEvent) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The caller's view -> the order as the event wants it."""

    def apply(view: dict[str, Any]) -> dict[str, Any]:
        wanted = merge(view, event.resource)
        if event.event_type == INFORMATION_REQUIRED:
            _ask_for_information(wanted, event)
        return wanted

    return apply


def merge(view: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, Any]:
    """The view with the event's fields: items merged by id, append-only lists gaining
    their new entries, others replaced; ``null`` removes a field (as in a merge patch)."""
    wanted = dict(view)
    for key, value in resource.items():
        if key in NOT_CHANGES:
            continue
        if value is None:
            wanted.pop(key, None)
        elif key == "productOrderItem" and isinstance(value, list):
            wanted[key] = _merge_items(view.get(key) or [], value)
        elif key in APPEND_ONLY_LISTS and isinstance(value, list):
            old = list(view.get(key) or [])
            known = [_unauthored(entry) for entry in old]
            wanted[key] = old + [entry for entry in value if _unauthored(entry) not in known]
        else:
            wanted[key] = value
    return wanted


def _unauthored(entry: Any) -> Any:
    if isinstance(entry, Mapping):
        return {k: v for k, v in entry.items() if k != NOTE_AUTHOR}
    return entry


def _merge_items(items: list[Any], changes: list[Any]) -> list[Any]:
    return merge_items_by_id(
        items,
        changes,
        _merge_item,
        "event.productOrder.productOrderItem",
        "of this order visible to the sender",
    )


def _merge_item(item: dict[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**item, **{k: v for k, v in change.items() if k not in NOT_CHANGES - {"@type"}}}
    return {k: v for k, v in merged.items() if v is not None}


def merge_items_by_id(
    items: list[Any],
    changes: list[Any],
    combine: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]],
    where: str,
    whose: str = "of this order",
) -> list[Any]:
    """Each change applied (``combine``) to the item with its ``id``; items no change
    names stay as they are, in their order. An event and a merge patch of an order
    (``api/patching.py``) say which items change this way; the set of items cannot
    change, so an id the order does not have is refused."""
    by_id = {item.get("id"): dict(item) for item in items if isinstance(item, dict)}
    for change in changes:
        if not isinstance(change, Mapping):
            raise BusinessRuleViolation(f"{where} entries are objects")
        target = by_id.get(change.get("id"))
        if target is None:
            raise BusinessRuleViolation(f"{where} '{change.get('id')}' is not an item {whose}")
        by_id[change.get("id")] = combine(target, change)
    return [by_id.get(item.get("id"), item) for item in items]


def _ask_for_information(wanted: dict[str, Any], event: OrderEvent) -> None:
    """Seed 001's notification, from a provider: its item, or the order itself (then
    all of the provider's open items), waits (pending) for ``fieldPath``. The seed
    writes ``/order/42 ``; the surrounding blanks are not part of the path."""
    match = _RESOURCE_PATH.match((event.resource_path or "").strip())
    if match is None or match["order"] != event.order_id:
        raise BusinessRuleViolation(
            f"resourcePath '{event.resource_path}' must name order '{event.order_id}' or one "
            "of its items (/productOrder/{id} or /productOrder/{id}/productOrderItem/{itemId})"
        )
    try:
        parse_field_path(event.field_path or "")
    except ValueError as exc:
        raise BusinessRuleViolation(f"fieldPath: {exc}") from None
    item_id = match["item"]
    entry: dict[str, Any] = {
        "@type": "ProductOrderErrorMessage",
        "code": CODE,
        "reason": "Information required",
        "message": event.field_path,
    }
    items = wanted.get("productOrderItem") or []
    if item_id is None:
        waiting = [i.get("id") for i in items if i.get("state") not in FINAL_STATES]
    else:
        waiting = [item_id]
        entry["productOrderItem"] = [
            {"@type": "ProductOrderItemRef", "productOrderItemId": item_id}
        ]
    wanted["productOrderErrorMessage"] = [*(wanted.get("productOrderErrorMessage") or []), entry]
    wanted["productOrderItem"] = _merge_items(
        items, [{"id": waiting_id, "state": State.PENDING} for waiting_id in waiting]
    )
