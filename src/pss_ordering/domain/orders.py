"""The product order aggregate: how a new order is checked and what is stored.

Storage keeps the TMF document as the customer would see it, plus the few
facts the PSS needs to decide visibility and routing (customer, creator, the
provider of each item). Everything here is pure; the service layer loads the
offerings and parties the rules need and hands them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import Offering
from .errors import BusinessRuleViolation, Forbidden, InvalidBody
from .events import DomainEvent, OrderCreated
from .identity import Caller, Role
from .parties import Party
from .timestamps import parse_instant

ORDER_TYPE = "ProductOrder"
ITEM_ACTIONS = ("add", "modify", "delete", "noChange")
SERVER_SET_FIELDS = ("id", "href", "creationDate", "state", "completionDate", "cancellationDate")
FINAL_STATES = frozenset({"completed", "cancelled", "rejected", "failed", "partial"})
CUSTOMER_ROLE = "customer"


@dataclass(slots=True)
class ProductOrder:
    """A stored order: the TMF document plus the facts visibility is decided on."""

    id: str
    customer_id: str
    creator_id: str
    item_providers: dict[str, str]
    doc: dict[str, Any]
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def state(self) -> str:
        return str(self.doc.get("state", "pending"))

    @property
    def provider_ids(self) -> frozenset[str]:
        return frozenset(self.item_providers.values())


@dataclass(frozen=True, slots=True)
class OrderingContext:
    """What create-order rules need from the outside world."""

    caller: Caller
    represented: frozenset[str]
    offerings: Mapping[str, Offering]
    customer: Party | None


def referenced_offering_ids(body: Mapping[str, Any]) -> set[str]:
    return {
        offering["id"]
        for item in body.get("productOrderItem") or []
        for offering in [item.get("productOffering") or {}]
        if isinstance(offering.get("id"), str)
    }


def requested_customer_id(caller: Caller, body: Mapping[str, Any]) -> str:
    """The customer an order is for: the named customer party, else the caller.

    A ``pss`` may act for any of its customers and an organisation for its members
    (PSI-03-02-01-01, -04); that second check needs the caller's community and is
    made in :func:`create_order`.
    """
    if not (caller.has(Role.CUSTOMER) or caller.has(Role.PSS)):
        raise Forbidden("only customers and other PSSs create product orders")
    named = {
        ref["id"]
        for related in body.get("relatedParty") or []
        if str(related.get("role", "")).lower() == CUSTOMER_ROLE
        for ref in [related.get("partyOrPartyRole") or {}]
        if isinstance(ref.get("id"), str)
    }
    if len(named) > 1:
        raise BusinessRuleViolation("relatedParty names more than one customer")
    if named:
        return str(named.pop())
    if not caller.has(Role.CUSTOMER):
        raise BusinessRuleViolation(
            "relatedParty with role 'customer' is required when a PSS creates an order"
        )
    return caller.party_id


def create_order(
    ctx: OrderingContext, body: dict[str, Any], order_id: str, now: str
) -> ProductOrder:
    """Check a schema-valid ProductOrder_FVO against the business rules and build the order."""
    caller = ctx.caller
    for name in SERVER_SET_FIELDS:
        if name in body:
            raise InvalidBody(f"'{name}' is set by the server and cannot be supplied")
    customer_id = requested_customer_id(caller, body)
    if (
        customer_id != caller.party_id
        and not caller.has(Role.PSS)
        and customer_id not in ctx.represented
    ):
        raise Forbidden(f"the caller may not create orders on behalf of party '{customer_id}'")
    items = body["productOrderItem"]
    item_providers = _check_items(items, ctx.offerings)
    check_dates(body, "requestedStartDate", "requestedCompletionDate", "")
    check_priority(body, ctx.customer)

    doc = dict(body)
    doc["id"] = order_id
    doc["@type"] = doc.get("@type") or ORDER_TYPE
    doc["creationDate"] = now
    draft = body.get("requestedInitialState") == "draft"
    doc["state"] = "draft" if draft else "pending"
    if not draft:
        for item in items:
            item["state"] = "pending"
    if customer_id == caller.party_id and not _names_customer(body):
        doc["relatedParty"] = [
            *(body.get("relatedParty") or []),
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": CUSTOMER_ROLE,
                "partyOrPartyRole": {"@type": "PartyRef", "id": customer_id},
            },
        ]
    order = ProductOrder(
        id=order_id,
        customer_id=customer_id,
        creator_id=caller.party_id,
        item_providers=item_providers,
        doc=doc,
    )
    order.events.append(OrderCreated(order_id=order_id, occurred_at=now))
    return order


def _names_customer(body: Mapping[str, Any]) -> bool:
    return any(
        str(r.get("role", "")).lower() == CUSTOMER_ROLE for r in body.get("relatedParty") or []
    )


def _check_items(items: list[dict[str, Any]], offerings: Mapping[str, Offering]) -> dict[str, str]:
    providers: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"productOrderItem[{index}]"
        item_id = item["id"]
        if item_id in providers:
            raise BusinessRuleViolation(f"{where}.id: item id '{item_id}' is not unique")
        if "state" in item:
            raise InvalidBody(f"'{where}.state' is set by the server and cannot be supplied")
        if "productOrderItem" in item:
            raise BusinessRuleViolation(
                f"{where}.productOrderItem: nested order items are not supported; list every "
                "item at the top level and link them with productOrderItemRelationship"
            )
        action = item["action"]
        if action not in ITEM_ACTIONS:
            raise BusinessRuleViolation(f"{where}.action must be one of {', '.join(ITEM_ACTIONS)}")
        offering_id = (item.get("productOffering") or {}).get("id")
        if not isinstance(offering_id, str):
            raise BusinessRuleViolation(
                f"{where}.productOffering.id is required to route the item to its provider"
            )
        offering = offerings.get(offering_id)
        if offering is None:
            raise BusinessRuleViolation(
                f"{where}.productOffering.id: offering '{offering_id}' does not exist"
            )
        if action == "add" and not offering.orderable:
            raise BusinessRuleViolation(
                f"{where}.productOffering.id: offering '{offering_id}' is not orderable"
            )
        if action in ("modify", "delete") and not isinstance(
            (item.get("product") or {}).get("id"), str
        ):
            raise BusinessRuleViolation(f"{where}.product.id is required for action '{action}'")
        check_dates(item, "requestedStartDate", "requestedEndDate", f"{where}.")
        providers[item_id] = offering.provider_id
    _check_relationships(items)
    return providers


def _check_relationships(items: list[dict[str, Any]]) -> None:
    edges: dict[str, list[str]] = {item["id"]: [] for item in items}
    ids = edges.keys()
    for index, item in enumerate(items):
        for rel_index, rel in enumerate(item.get("productOrderItemRelationship") or []):
            target = rel.get("id")
            where = f"productOrderItem[{index}].productOrderItemRelationship[{rel_index}].id"
            if target not in ids:
                raise BusinessRuleViolation(f"{where}: no item '{target}' in this order")
            if target == item["id"]:
                raise BusinessRuleViolation(f"{where}: an item cannot relate to itself")
            edges[item["id"]].append(target)
    _reject_cycles(edges)


def _reject_cycles(edges: Mapping[str, list[str]]) -> None:
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, next_child = stack.pop()
            if next_child == 0:
                path.append(node)
                on_path.add(node)
            children = edges.get(node, [])
            if next_child < len(children):
                stack.append((node, next_child + 1))
                child = children[next_child]
                if child in on_path:
                    cycle = [*path[path.index(child) :], child]
                    raise BusinessRuleViolation(
                        "productOrderItemRelationship forms a cycle: " + " -> ".join(cycle)
                    )
                if child not in done:
                    stack.append((child, 0))
            else:
                path.pop()
                on_path.discard(node)
                done.add(node)


def check_dates(obj: Mapping[str, Any], start: str, end: str, where: str = "") -> None:
    """``start`` must not be after ``end`` when both are given."""
    if obj.get(start) is None or obj.get(end) is None:
        return
    try:
        begins, ends = parse_instant(obj[start]), parse_instant(obj[end])
    except ValueError as exc:
        raise BusinessRuleViolation(f"{where}{start}/{end}: not a valid date-time") from exc
    if begins > ends:
        raise BusinessRuleViolation(f"{where}{start} must not be after {where}{end}")


def check_priority(body: Mapping[str, Any], customer: Party | None) -> None:
    if body.get("priority") is None:
        return
    text = str(body["priority"]).strip()
    if text not in {"0", "1", "2", "3", "4"}:
        raise BusinessRuleViolation("priority must be 0 (highest) to 4 (lowest)")
    limit = customer.max_priority if customer else None
    if limit is not None and int(text) < limit:
        raise BusinessRuleViolation(
            f"priority {text} is more urgent than the customer's maxPriority {limit}"
        )
