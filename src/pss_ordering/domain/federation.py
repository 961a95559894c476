"""Pooling & Sharing with a partner PSS: which parties are partners, and brokered offerings.

PSI-TAD ("PSS to PSS"): PSSs "interact with each other to reach out to providers
they do not have in their own portfolio". Governance pairs two PSSs: at the
broker (A) the partner (B) is an organisation acting as a provider, with
``responseTime`` like any provider, and with the governed characteristic
``partnerApiUrl``, the base URL of B's PSI APIs (how A authenticates to B is the
operator's per-host outbound credentials, ``PSS_CALLBACK_AUTH``, ADR035).

A's catalogue holds B's orderable offerings as *brokered* offerings: provided by
party B, under an id of A's own (``{B}.{B's id}``), with an ``externalIdentifier``
owned by B naming B's id. A brokered offering is never handed to another PSS
(no re-export, so no loops between partners), and one that B no longer offers
stays at A as ``retired``: orders that name it keep their history, new ones are
refused as for any retired offering.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import missing
from .catalog import Offering
from .events import EventType
from .identity import Role
from .lifecycle import CANCELLING, FINAL_STATES, WORK_STARTED, State
from .orders import ProductOrder
from .progress import item_statuses, move_items
from .timestamps import Instant

OFFERING_TYPE = "ProductOffering"
RETIRED = "retired"
#: What is B's alone in its offering document: A serves its own href and provider.
NOT_IMPORTED = frozenset({"href", "relatedParty", "externalIdentifier"})


def brokered_id(partner_id: str, remote_id: str) -> str:
    return f"{partner_id}.{remote_id}"


def is_brokered(offering: Offering) -> bool:
    """Imported from a partner PSS: an externalIdentifier owned by its provider."""
    return any(
        isinstance(ref, Mapping) and ref.get("owner") == offering.provider_id
        for ref in offering.doc.get("externalIdentifier") or []
    )


def exportable(offering: Offering) -> bool:
    """Whether another PSS may see it: never a brokered one (no re-export, no loops)."""
    return not is_brokered(offering)


@dataclass(frozen=True, slots=True)
class CatalogueChange:
    """What one pull of a partner's catalogue changes at the broker."""

    saved: list[tuple[Offering, bool]]  # (offering, new)
    retired: list[Offering]


def import_catalogue(
    partner_id: str, pulled: Iterable[Mapping[str, Any]], held: Iterable[Offering]
) -> CatalogueChange:
    """The partner's offerings as brokered offerings of this PSS, against those held.

    An offering the partner itself brokers (it carries an externalIdentifier) is left
    out: it is not the partner's to resell. One held but no longer pulled is retired.
    """
    held_by_id = {o.id: o for o in held if o.provider_id == partner_id and is_brokered(o)}
    saved: list[tuple[Offering, bool]] = []
    seen: set[str] = set()
    for doc in pulled:
        their_id = doc.get("id")
        if not isinstance(their_id, str) or _brokered_there(doc):
            continue
        offering = _brokered(partner_id, their_id, doc)
        seen.add(offering.id)
        before = held_by_id.get(offering.id)
        if before is None or dict(before.doc) != offering.doc:
            saved.append((offering, before is None))
    retired = [
        Offering(o.id, o.provider_id, {**o.doc, "lifecycleStatus": RETIRED})
        for o in held_by_id.values()
        if o.id not in seen and o.doc.get("lifecycleStatus") != RETIRED
    ]
    return CatalogueChange(saved, retired)


def _brokered_there(doc: Mapping[str, Any]) -> bool:
    """The partner brokers it itself (same test as :func:`is_brokered`, on its document)."""
    providers = {
        ref.get("id")
        for related in doc.get("relatedParty") or []
        if isinstance(related, Mapping) and related.get("role") == Role.PROVIDER
        for ref in [related.get("partyOrPartyRole")]
        if isinstance(ref, Mapping)
    }
    return any(
        isinstance(ref, Mapping) and ref.get("owner") in providers
        for ref in doc.get("externalIdentifier") or []
    )


def _brokered(partner_id: str, their_id: str, doc: Mapping[str, Any]) -> Offering:
    offering_id = brokered_id(partner_id, their_id)
    mine = {k: v for k, v in doc.items() if k not in NOT_IMPORTED}
    mine.update(
        id=offering_id,
        relatedParty=[
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": Role.PROVIDER,
                "partyOrPartyRole": {"@type": "PartyRef", "id": partner_id},
            }
        ],
        externalIdentifier=[
            {
                "@type": "ExternalIdentifier",
                "id": their_id,
                "owner": partner_id,
                "externalIdentifierType": OFFERING_TYPE,
            }
        ],
    )
    mine.setdefault("@type", OFFERING_TYPE)
    return Offering(offering_id, partner_id, mine)


# -- orders: what travels down to the partner (A -> B) ------------------------------

EVENT_PATH = "/psi-api/event/v2/topic/order/event"
HUB_PATH = "/psi-api/event/v2/topic/order/hub"
#: The broker's registration at the partner: events of the orders it forwarded there.
RELAYED_ORDERS = "event.productOrder.externalId.externalIdentifierType=ProductOrder"
#: Order fields of the customer's that mean the same at the partner, relayed as given.
RELAYED_ORDER_FIELDS = ("description", "requestedStartDate", "requestedCompletionDate", "priority")
#: What the partner learns of an item: all but its state (the partner's to report).
ITEM_NOT_RELAYED = frozenset({"state"})
CANCEL_REQUESTED = frozenset(
    {State.ASSESSING_CANCELLATION, State.PENDING_CANCELLATION, State.CANCELLED}
)


def relay_target(api_url: str) -> str:
    """Where a partner PSS receives the events this PSS sends it as its customer."""
    return api_url.rstrip("/") + EVENT_PATH


def relay_down(
    envelope: Mapping[str, Any], details: Mapping[str, Any], partner_id: str
) -> dict[str, Any] | None:
    """The event a partner PSS receives from this PSS for its items of an order.

    ``envelope`` is what the partner, as the provider of those items, is told
    (``notifications.render``: its view only). The partner gets it as the event of
    the other PSS that ordered those items from it (TOD-03-02 "Other PSS", via
    events): a creation carrying only its items, under this PSS's order id (the
    per-hop id, kept at the partner as this PSS's externalId), with the offerings
    under the partner's own ids; later, what the customer changed that means
    something there (a cancellation request, the dates, the description, an
    item's product when missing information is supplied). What the partner itself
    reported (item states, messages) is not sent back. None: nothing to tell.
    """
    order = envelope.get("event", {}).get("productOrder") or {}
    event_type = envelope.get("eventType")
    hop: dict[str, Any] = {"id": order.get("id")}
    if event_type == EventType.ORDER_CREATION:
        hop.update((k, order[k]) for k in RELAYED_ORDER_FIELDS if k in order)
        hop["productOrderItem"] = [_item_down(item, partner_id) for item in _items(order)]
    elif event_type == EventType.ORDER_STATE_CHANGE:
        if details.get("to") not in CANCEL_REQUESTED or details.get("from") in CANCEL_REQUESTED:
            return None  # only the customer's cancellation travels down, not its echo
        hop["state"] = State.CANCELLED
        if order.get("cancellationReason"):
            hop["cancellationReason"] = order["cancellationReason"]
    elif event_type == EventType.ORDER_VALUE_CHANGE:
        fields = set(details.get("fields") or [])
        hop.update((k, order[k]) for k in RELAYED_ORDER_FIELDS if k in fields and k in order)
        products = [
            {"id": item.get("id"), "product": item["product"]}
            for item in _items(order)
            if "product" in item
        ]
        if "productOrderItem" in fields and products:
            hop["productOrderItem"] = products
        if len(hop) == 1:
            return None
    else:
        return None
    return {
        "eventId": envelope.get("eventId"),
        "eventTime": envelope.get("eventTime"),
        "eventType": event_type,
        "event": {"productOrder": hop},
    }


def _items(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [i for i in order.get("productOrderItem") or [] if isinstance(i, Mapping)]


def _item_down(item: Mapping[str, Any], partner_id: str) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k not in ITEM_NOT_RELAYED}
    offering = item.get("productOffering")
    if isinstance(offering, Mapping) and isinstance(offering.get("id"), str):
        prefix = brokered_id(partner_id, "")
        their = offering["id"].removeprefix(prefix)
        out["productOffering"] = {"id": their}
    return out


# -- orders: what comes up from the partner (B -> A) --------------------------------

#: What this PSS takes from the partner's order, as the provider of its items.
RELAYED_UP_FIELDS = ("expectedCompletionDate",)
INFO_CODE = missing.CODE


def order_candidates(resource: Mapping[str, Any]) -> list[str]:
    """The ids under which a partner's event may name an order of this PSS: the partner
    keeps this PSS's (per-hop) id as an externalId of its copy."""
    return [
        entry["id"]
        for entry in resource.get("externalId") or []
        if isinstance(entry, Mapping)
        and isinstance(entry.get("id"), str)
        and entry.get("externalIdentifierType") == "ProductOrder"
    ]


def item_state_up(theirs: str, ours: str) -> str:
    """Our item's state, given the partner's state for it.

    The partner's copy settles a cancellation by itself: ``cancelled`` (or
    ``pendingCancellation``) there means the partner accepted our request, which
    for an item we are assessing is the provider's ``pendingCancellation``; our
    own settling then cancels it with the rest of the order.
    """
    if ours in FINAL_STATES or theirs == ours:
        return ours
    if ours == State.ASSESSING_CANCELLATION and theirs in (
        State.PENDING_CANCELLATION,
        State.CANCELLED,
    ):
        return State.PENDING_CANCELLATION
    if ours == State.PENDING_CANCELLATION:
        return ours
    return theirs


def up_patcher(
    resource: Mapping[str, Any],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The partner's copy of the order -> our order as the partner, our provider, wants
    it: its items' states, its expected completion date, its messages (reasons for a
    rejection; information requests come as their own event). Everything else of its
    copy (our id, its milestones, notes, its own customer) is not ours to take."""

    def apply(view: dict[str, Any]) -> dict[str, Any]:
        wanted = dict(view)
        theirs = {i.get("id"): i for i in _items(resource)}
        items = []
        for item in view.get("productOrderItem") or []:
            their = theirs.get(item.get("id"))
            if isinstance(their, Mapping) and isinstance(their.get("state"), str):
                item = {**item, "state": item_state_up(their["state"], item.get("state", ""))}
            items.append(item)
        wanted["productOrderItem"] = items
        wanted.update((k, resource[k]) for k in RELAYED_UP_FIELDS if k in resource)
        old = list(view.get("productOrderErrorMessage") or [])
        new = [
            m
            for m in resource.get("productOrderErrorMessage") or []
            if isinstance(m, Mapping) and m.get("code") != INFO_CODE and m not in old
        ]
        if new:
            wanted["productOrderErrorMessage"] = old + new
        return wanted

    return apply


# -- a refusal by the partner ---------------------------------------------------------

REFUSED_CODE = "partnerRefused"
#: Answers by which the partner judges the order itself (not a passing fault). Not
#: 404: a creation names no resource there, so a 404 is a wrong partnerApiUrl, retried
#: (and halted) like any failure rather than rejecting the customer's order.
REFUSALS = frozenset({400, 403, 409, 413, 422})


def refusal_reason(status: int, answer: bytes) -> str:
    """The partner's reason, from its TMF Error body when it sent one."""
    try:
        error = json.loads(answer.decode("utf-8", "replace"))
    except ValueError:
        error = None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message:
        return f"HTTP {status}: {message[:500]}"
    return f"HTTP {status}"


def refuse_items(order: ProductOrder, partner_id: str, reason: str, now: Instant) -> bool:
    """The partner's open items of the order are rejected (failed, once work started on
    the order), with its reason as a message; False when there is nothing to refuse."""
    started = any(s.state in WORK_STARTED for s in item_statuses(order))
    moves = {
        item_id: State.FAILED if started else State.REJECTED
        for item_id in order.items_of(partner_id)
        if order.item(item_id).get("state") not in FINAL_STATES | CANCELLING
    }
    if not moves:
        return False
    message = {
        "@type": "ProductOrderErrorMessage",
        "code": REFUSED_CODE,
        "reason": f"partner PSS '{partner_id}' refused the order",
        "message": reason,
        "timestamp": now,
        "productOrderItem": [
            {"@type": "ProductOrderItemRef", "productOrderItemId": item_id}
            for item_id in sorted(moves)
        ],
    }
    order.doc.setdefault("productOrderErrorMessage", []).append(message)
    move_items(order, partner_id, moves, now)
    return True
