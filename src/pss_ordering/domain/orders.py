"""The product order aggregate: how a new order is checked and what is stored.

Storage keeps the TMF document as the customer would see it, plus the few
facts the PSS needs to decide visibility and routing (customer, creator, the
provider of each item). Everything here is pure; the service layer loads the
offerings and parties the rules need and hands them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .authorship import NOTE, Authorship, authored
from .catalog import Offering
from .errors import BusinessRuleViolation, Conflict, Forbidden
from .events import (
    DomainEvent,
    InformationAwaited,
    InformationSettled,
    OrderCreated,
    OrderInformationRequired,
)
from .field_rights import creation_problems
from .identity import Caller, Role
from .lifecycle import FINAL_STATES, State
from .missing import Missing, error_message, required_but_missing
from .parties import Party, check_may_act_for
from .problems import Problems
from .related_parties import CUSTOMER_ROLE, canonical, is_customer, related_party_problems
from .response_deadline import Deadline
from .timestamps import Instant, parse_instant

ORDER_TYPE = "ProductOrder"
ITEM_ACTIONS = ("add", "modify", "delete", "noChange")
RULE = "businessRule"


@dataclass(slots=True)
class OrderRecord:
    """An order as a read shows it: the TMF document plus the facts the PSS decides
    visibility and routing on (customer, creator, the provider of each item).

    Lists and the event log read orders as records, with only the bookkeeping their
    views need (``authorship``: which notes are whose; ``missing``: what the order
    waits for, empty where a view does not use it). A record cannot be saved: only a
    :class:`ProductOrder`, read whole, can, so a partial read can never overwrite
    the bookkeeping it did not read.
    """

    id: str
    customer_id: str
    creator_id: str
    item_providers: dict[str, str]
    doc: dict[str, Any]
    version: int = 1
    replaces: str | None = None
    submitted_at: Instant | None = None
    authorship: Authorship = field(default_factory=Authorship)
    missing: list[Missing] = field(default_factory=list)

    @property
    def state(self) -> State:
        return State(self.doc.get("state", State.PENDING))

    @property
    def provider_ids(self) -> frozenset[str]:
        return frozenset(self.item_providers.values())

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.doc.setdefault("productOrderItem", [])  # type: ignore[no-any-return]

    def item(self, item_id: str) -> dict[str, Any]:
        return next(i for i in self.items if i.get("id") == item_id)

    def items_of(self, provider_id: str) -> list[str]:
        return [i for i, owner in self.item_providers.items() if owner == provider_id]


@dataclass(slots=True)
class ProductOrder(OrderRecord):
    """A stored order, whole: the record plus its bookkeeping, kept in the row's ``meta``;
    what the rules change and the only kind of order the repository writes.

    ``acknowledged`` holds when each item's provider acknowledged it, ``resume``
    the state an item returns to after a refused cancellation or supplied
    information, ``missing`` the information the order waits for,
    ``replaces`` the order this one is to replace, ``submitted_at`` when it
    was submitted to its providers (None while a draft: providers never see it),
    ``deadlines`` each provider's response deadline (``deadlines.py``), and
    ``authorship`` which notes are whose and each provider's expected completion
    (``authorship.py``: need-to-know between the providers of one order),
    ``unconfirmed`` the owner's changes each provider may still refuse (item id or
    None for the order, field; ``refusals.py``). ``events`` are what the change
    recorded: handled when it is saved, then published.
    """

    acknowledged: dict[str, Instant] = field(default_factory=dict)
    resume: dict[str, str] = field(default_factory=dict)
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    unconfirmed: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)

    def record_missing(self, found: list[Missing], now: Instant) -> None:
        """Record what the order waits for, show it on the order, raise the events."""
        if found and not self.missing:
            offering_ids = frozenset(
                str((item.get("productOffering") or {}).get("id")) for item in self.items
            )
            self.events.append(
                InformationAwaited(order_id=self.id, occurred_at=now, offering_ids=offering_ids)
            )
        known = {(m.item_id, m.field_path) for m in self.missing}
        for missing in found:
            if (missing.item_id, missing.field_path) in known:
                continue
            known.add((missing.item_id, missing.field_path))
            self.missing.append(missing)
            if missing.reporter == Role.PSS:
                self.doc.setdefault("productOrderErrorMessage", []).append(
                    error_message(missing, now)
                )
            details: dict[str, Any] = {
                "resourcePath": missing.resource_path(self.id),
                "fieldPath": missing.field_path,
            }
            if missing.item_id is None:
                details["providers"] = sorted(missing.concerns)  # whom it concerns
            self.events.append(
                OrderInformationRequired(order_id=self.id, occurred_at=now, details=details)
            )

    def keep_missing(self, still: list[Missing], now: Instant) -> None:
        """Only ``still`` is awaited now; when nothing is, say so (its timer is cleared)."""
        if self.missing and not still:
            self.events.append(InformationSettled(order_id=self.id, occurred_at=now))
        self.missing = still

    def meta(self) -> dict[str, Any]:
        return {
            "acknowledged": self.acknowledged,
            "resume": self.resume,
            "missing": [m.as_json() for m in self.missing],
            "deadlines": [d.as_json() for d in self.deadlines.values()],
            "authorship": self.authorship.as_json(),
            "unconfirmed": {p: [list(c) for c in cs] for p, cs in self.unconfirmed.items()},
        }

    def load_meta(self, meta: dict[str, Any]) -> None:
        self.acknowledged = dict(meta.get("acknowledged") or {})
        self.resume = dict(meta.get("resume") or {})
        self.missing = [Missing.from_json(m) for m in meta.get("missing") or []]
        self.authorship = Authorship.from_json(meta.get("authorship"))
        self.unconfirmed = {
            p: [(c[0], c[1]) for c in cs] for p, cs in (meta.get("unconfirmed") or {}).items()
        }
        self.deadlines = {
            d.provider_id: d for d in map(Deadline.from_json, meta.get("deadlines") or [])
        }


@dataclass(frozen=True, slots=True)
class OrderingContext:
    """What create-order rules need from the outside world.

    ``replaced`` is the order the new one replaces only when the caller may see
    and cancel it, i.e. :func:`owns` it: to the rules, any other order is
    missing. ``customer_profiles`` are the customer's profile and its
    organisations' (their grants to PSSs), ``caller_profile`` the caller's own.
    """

    caller: Caller
    represented: frozenset[str]
    offerings: Mapping[str, Offering]
    customer: Party | None
    replaced: ProductOrder | None = None
    replacement_taken: bool = False
    customer_profiles: tuple[Party, ...] = ()
    caller_profile: Party | None = None


def referenced_offering_ids(body: Mapping[str, Any]) -> set[str]:
    return {
        offering["id"]
        for item in body.get("productOrderItem") or []
        for offering in [item.get("productOffering") or {}]
        if isinstance(offering.get("id"), str)
    }


def requested_customer_id(caller: Caller, body: Mapping[str, Any]) -> str:
    """The customer an order is for: the named customer party, else the caller.

    An organisation may act for its members (PSI-03-02-01-01, -04) and a ``pss``
    for the customers that granted it; both checks need the parties' profiles
    and are made in :func:`create_order`.
    """
    if not (caller.has(Role.CUSTOMER) or caller.has(Role.PSS)):
        raise Forbidden("only customers and other PSSs create product orders")
    named = {
        ref["id"]
        for related in body.get("relatedParty") or []
        if is_customer(related)
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


def creation_shape(body: Mapping[str, Any], problems: Problems) -> None:
    """What a create body may hold beyond its schema (400s): the fields its creator
    writes (``field_rights``), related parties with one meaning (``related_parties``)."""
    creation_problems(body, problems)
    related_party_problems(body, problems)


def create_order(
    ctx: OrderingContext, body: dict[str, Any], order_id: str, now: Instant
) -> ProductOrder:
    """Check a schema-valid ProductOrder_FVO against the business rules and build the order.

    The shape is judged first (400, every problem); the rules read a well-formed
    order, and every rule it breaks is named in one answer too (422).
    """
    caller = ctx.caller
    problems = Problems()
    creation_shape(body, problems)
    problems.raise_if_any()
    customer_id = requested_customer_id(caller, body)
    _check_acts_for(ctx, customer_id)
    items = body["productOrderItem"]
    item_providers = validate_items(items, ctx.offerings, problems)
    check_dates(body, "requestedStartDate", "requestedCompletionDate", problems)
    check_priority(body, ctx.customer, problems)
    replaces = _replaced_order(ctx, body, customer_id, problems)
    problems.raise_if_any()

    doc = dict(body)
    if body.get("relatedParty"):
        doc["relatedParty"] = canonical(body["relatedParty"])
    if body.get(NOTE):
        doc[NOTE] = authored(body[NOTE], caller.party_id)
    doc["id"] = order_id
    doc["@type"] = doc.get("@type") or ORDER_TYPE
    doc["creationDate"] = now
    draft = body.get("requestedInitialState") == State.DRAFT
    doc["state"] = State.DRAFT if draft else State.PENDING
    if not draft:
        for item in items:
            item["state"] = State.PENDING
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
    order.replaces = replaces
    order.events.append(OrderCreated(order_id=order_id, occurred_at=now))
    if not draft:
        order.submitted_at = now
        order.record_missing(required_but_missing(doc, ctx.offerings), now)
    return order


def _check_acts_for(ctx: OrderingContext, customer_id: str) -> None:
    """The caller orders for itself, a member of its organisation, or a customer that
    granted the calling PSS (403 otherwise, naming what is missing)."""
    caller = ctx.caller
    if customer_id == caller.party_id:
        return
    if caller.has(Role.CUSTOMER) and customer_id in ctx.represented:
        return
    if caller.has(Role.PSS):
        check_may_act_for(caller.party_id, customer_id, ctx.customer_profiles, ctx.caller_profile)
        return
    raise Forbidden(f"the caller may not create orders on behalf of party '{customer_id}'")


REPLACES = "replaces"


def replaced_order_id(body: Mapping[str, Any]) -> str | None:
    """The order a new order says it replaces (``orderRelationship`` of type replaces)."""
    ids = [
        rel.get("id")
        for rel in body.get("orderRelationship") or []
        if rel.get("relationshipType") == REPLACES
    ]
    if len(ids) > 1:
        raise BusinessRuleViolation("an order can replace at most one order")
    return str(ids[0]) if ids else None


def owns(caller: Caller, represented: frozenset[str], order: ProductOrder) -> bool:
    """The order's customer (or an organisation acting for it), or the PSS that created it.

    Owners edit, cancel and replace the order; governance sees it but changes
    nothing, providers move their items only.
    """
    return (caller.has(Role.CUSTOMER) and order.customer_id in represented) or (
        caller.has(Role.PSS) and order.creator_id == caller.party_id
    )


def _replaced_order(
    ctx: OrderingContext, body: Mapping[str, Any], customer: str, problems: Problems
) -> str | None:
    """The order to replace, once the caller may; any other order reads as a missing one."""
    old_id = replaced_order_id(body)
    if old_id is None:
        return None
    old, where = ctx.replaced, ["orderRelationship"]
    if old is None or old.customer_id != customer:
        reason = f"there is no order '{old_id}' of this customer that the caller may replace"
        problems.add(BusinessRuleViolation, where, reason, RULE)
    elif old.state in FINAL_STATES:
        reason = f"order '{old_id}' is {old.state}; only an open order can be replaced"
        problems.add(BusinessRuleViolation, where, reason, RULE)
    elif ctx.replacement_taken:
        reason = f"order '{old_id}' is already replaced by another order"
        problems.add(Conflict, where, reason, "alreadyReplaced")
    return old_id


def _names_customer(body: Mapping[str, Any]) -> bool:
    return any(is_customer(r) for r in body.get("relatedParty") or [])


def validate_items(
    items: list[dict[str, Any]], offerings: Mapping[str, Offering], problems: Problems
) -> dict[str, str]:
    """Every create rule on the items, each problem added; the provider of each item."""
    providers: dict[str, str] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        where: list[str | int] = ["productOrderItem", index]
        item_id, action = item["id"], item["action"]
        if item_id in seen:
            problems.add(
                BusinessRuleViolation, [*where, "id"], f"item id '{item_id}' is not unique", RULE
            )
        seen.add(item_id)
        if "productOrderItem" in item:
            problems.add(
                BusinessRuleViolation,
                [*where, "productOrderItem"],
                "nested order items are not supported; list every item at the top level "
                "and link them with productOrderItemRelationship",
                RULE,
            )
        if action not in ITEM_ACTIONS:
            reason = f"must be one of {', '.join(ITEM_ACTIONS)}"
            problems.add(BusinessRuleViolation, [*where, "action"], reason, RULE)
        if action in ("modify", "delete") and not isinstance(
            (item.get("product") or {}).get("id"), str
        ):
            reason = f"is required for action '{action}'"
            problems.add(BusinessRuleViolation, [*where, "product", "id"], reason, RULE)
        check_dates(item, "requestedStartDate", "requestedEndDate", problems, where)
        offering = _offering(item, offerings, where, problems)
        if offering is not None:
            providers[item_id] = offering.provider_id
    _check_relationships(items, problems)
    return providers


def _offering(
    item: Mapping[str, Any],
    offerings: Mapping[str, Offering],
    where: list[str | int],
    problems: Problems,
) -> Offering | None:
    """The orderable offering an item names (which routes it to its provider)."""
    path = [*where, "productOffering", "id"]
    offering_id = (item.get("productOffering") or {}).get("id")
    if not isinstance(offering_id, str):
        reason = "is required to route the item to its provider"
        problems.add(BusinessRuleViolation, path, reason, RULE)
        return None
    offering = offerings.get(offering_id)
    if offering is None:
        reason = f"offering '{offering_id}' does not exist"
        problems.add(BusinessRuleViolation, path, reason, RULE)
    elif item["action"] == "add" and not offering.orderable:
        reason = f"offering '{offering_id}' is not orderable"
        problems.add(BusinessRuleViolation, path, reason, RULE)
    return offering


def _check_relationships(items: list[dict[str, Any]], problems: Problems) -> None:
    edges: dict[str, list[str]] = {item["id"]: [] for item in items}
    ids = edges.keys()
    for index, item in enumerate(items):
        for rel_index, rel in enumerate(item.get("productOrderItemRelationship") or []):
            target = rel.get("id")
            where: list[str | int] = [
                "productOrderItem",
                index,
                "productOrderItemRelationship",
                rel_index,
                "id",
            ]
            if target not in ids:
                problems.add(
                    BusinessRuleViolation, where, f"no item '{target}' in this order", RULE
                )
            elif target == item["id"]:
                problems.add(BusinessRuleViolation, where, "an item cannot relate to itself", RULE)
            else:
                edges[item["id"]].append(target)
    cycle = _cycle(edges)
    if cycle:
        problems.add(
            BusinessRuleViolation,
            ["productOrderItem"],
            "productOrderItemRelationship forms a cycle: " + " -> ".join(cycle),
            RULE,
        )


def _cycle(edges: Mapping[str, list[str]]) -> list[str]:
    """A cycle of the relationships (as the ids along it), or [] when there is none."""
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
                    return [*path[path.index(child) :], child]
                if child not in done:
                    stack.append((child, 0))
            else:
                path.pop()
                on_path.discard(node)
                done.add(node)
    return []


def check_dates(
    obj: Mapping[str, Any],
    start: str,
    end: str,
    problems: Problems,
    where: Sequence[str | int] = (),
) -> None:
    """``start`` must not be after ``end`` when both are given."""
    if obj.get(start) is None or obj.get(end) is None:
        return
    try:
        begins, ends = parse_instant(obj[start]), parse_instant(obj[end])
    except ValueError:
        problems.add(BusinessRuleViolation, [*where, start], "not a valid date-time", RULE)
        return
    if begins > ends:
        problems.add(BusinessRuleViolation, [*where, start], f"must not be after {end}", RULE)


def check_priority(body: Mapping[str, Any], customer: Party | None, problems: Problems) -> None:
    if body.get("priority") is None:
        return
    text = str(body["priority"]).strip()
    if text not in {"0", "1", "2", "3", "4"}:
        reason = "must be 0 (highest) to 4 (lowest)"
        problems.add(BusinessRuleViolation, ["priority"], reason, RULE)
        return
    limit = customer.max_priority if customer else None
    if limit is not None and int(text) < limit:
        reason = f"{text} is more urgent than the customer's maxPriority {limit}"
        problems.add(BusinessRuleViolation, ["priority"], reason, RULE)
