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
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .authorship import NOTE
from .catalog import Offering
from .field_rights import CUSTOMER_FIELDS, ITEM_FIELD_RIGHTS, Writer
from .identity import Role
from .inbound import NOTE_AUTHOR
from .lifecycle import CANCELLING, FINAL_STATES, WORK_STARTED, State
from .missing import CODE, REFUSED, parse_field_path
from .notifications import CREATION, REMOVAL, STATE_CHANGE, VALUE_CHANGE
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
#: What the customer writes on a submitted order (``field_rights.CUSTOMER_FIELDS``)
#: travels to the partner, but for two fields that are this PSS's own business: its
#: ``externalId`` (the partner keeps *our* id there and finds its copy by it) and
#: ``relatedParty`` (parties of this PSS; at the partner the customer is this PSS).
NOT_RELAYED_ORDER_FIELDS = frozenset({"externalId", "relatedParty"})
RELAYED_ORDER_FIELDS = tuple(sorted(CUSTOMER_FIELDS - NOT_RELAYED_ORDER_FIELDS))
#: What the customer writes on a submitted item (``ITEM_FIELD_RIGHTS``), and its
#: product (characteristics supplied when the partner's provider asked for them).
RELAYED_ITEM_FIELDS = (
    *sorted(k for k, rights in ITEM_FIELD_RIGHTS.items() if Writer.OWNER in rights),
    "product",
)
#: What the partner learns of an item: all but its state (the partner's to report).
ITEM_NOT_RELAYED = frozenset({"state"})
CANCEL_REQUESTED = frozenset(
    {State.ASSESSING_CANCELLATION, State.PENDING_CANCELLATION, State.CANCELLED}
)
#: The cancellation reason the partner reads when this PSS removed the order.
REMOVED_REASON = "the order was removed at the PSS that forwarded it"


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
    under the partner's own ids; later, whatever the customer changed of what the
    partner's view holds and the customer writes (``RELAYED_ORDER_FIELDS``,
    ``RELAYED_ITEM_FIELDS``: billing, notes, dates, a product's characteristics
    supplied, ...), with ``null`` for a value removed; a cancellation request; and
    the order's removal here, which the partner hears as a cancellation request
    (it cannot remove an order of its customer's, and its copy must stop). What the
    partner itself reported (item states, messages) is not sent back. None:
    nothing to tell.
    """
    order = envelope.get("event", {}).get("productOrder") or {}
    event_type = envelope.get("eventType")
    hop: dict[str, Any] = {"id": order.get("id")}
    if event_type == CREATION:
        hop.update((k, _relayed(k, order[k])) for k in RELAYED_ORDER_FIELDS if k in order)
        hop["productOrderItem"] = [_item_down(item, partner_id) for item in _items(order)]
    elif event_type == STATE_CHANGE:
        if details.get("to") not in CANCEL_REQUESTED or details.get("from") in CANCEL_REQUESTED:
            return None  # only the customer's cancellation travels down, not its echo
        hop["state"] = State.CANCELLED
        if order.get("cancellationReason"):
            hop["cancellationReason"] = order["cancellationReason"]
    elif event_type == REMOVAL:
        if all(i.get("state") in FINAL_STATES | CANCELLING for i in _items(order)):
            return None  # nothing open there, or its cancellation was already asked for
        event_type = STATE_CHANGE
        hop.update(state=State.CANCELLED, cancellationReason=REMOVED_REASON)
    elif event_type == VALUE_CHANGE:
        fields = set(details.get("fields") or [])
        hop.update((k, _relayed(k, order.get(k))) for k in RELAYED_ORDER_FIELDS if k in fields)
        # The customer's item changes name their fields; a provider's moves do not.
        item_fields = [k for k in RELAYED_ITEM_FIELDS if f"productOrderItem.{k}" in fields]
        if item_fields:
            hop["productOrderItem"] = [
                {"id": item.get("id"), **{k: item.get(k) for k in item_fields}}
                for item in _items(order)
            ]
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


def _relayed(name: str, value: Any) -> Any:
    """A field's value as the partner receives it: notes without their ``author``,
    which the receiving PSS sets itself (to this PSS, the author there)."""
    if name == NOTE and isinstance(value, list):
        return [
            {k: v for k, v in n.items() if k != NOTE_AUTHOR} if isinstance(n, Mapping) else n
            for n in value
        ]
    return value


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
INFO_CODE = CODE


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
    resource: Mapping[str, Any], awaiting: Collection[tuple[str | None, str]] = ()
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The partner's copy of the order -> our order as the partner, our provider, wants
    it: its items' states, its expected completion date, its messages (reasons for a
    rejection; information requests come as their own event). Everything else of its
    copy (our id, its milestones, notes, its own customer) is not ours to take.

    ``awaiting``: the changes of ours the partner may refuse (``order.unconfirmed``).
    A refusal of a change we did not tell it of as acknowledged (it acknowledged there
    while our change was on its way) cannot be a refusal here; it is the information
    request it amounts to, so the customer is asked all the same."""

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
            ours
            for m in resource.get("productOrderErrorMessage") or []
            if isinstance(m, Mapping)
            and m.get("code") != INFO_CODE
            and m not in old  # told again (its refusal, once applied, awaits nothing)
            and (ours := _message_up(m, awaiting)) not in old
        ]
        if new:
            wanted["productOrderErrorMessage"] = old + new
        return wanted

    return apply


def _message_up(
    message: Mapping[str, Any], awaiting: Collection[tuple[str | None, str]]
) -> Mapping[str, Any]:
    """The partner's message as ours: a refusal of a change we do not await an answer to
    is an information request for that field (``refusals.py`` would refuse it)."""
    if message.get("code") != REFUSED:
        return message
    try:
        path, _ = parse_field_path(str(message.get("message") or ""))
    except ValueError:
        return message  # malformed: the provider rules say so to the partner
    refs = message.get("productOrderItem")
    items = (
        [r.get("productOrderItemId") for r in refs if isinstance(r, Mapping)]
        if isinstance(refs, list)
        else []
    )
    name = path[0] if path else ""
    if (None, name) in awaiting or any((i, name) in awaiting for i in items):
        return message
    return {**message, "code": INFO_CODE}


def refusal_told(resource: Mapping[str, Any], field_path: str | None) -> bool:
    """Whether the partner's copy carries its refusal of a change of ``field_path`` (the
    information request that follows a ``changeRefused``, not one of its own)."""
    return any(
        isinstance(m, Mapping) and m.get("code") == REFUSED and m.get("message") == field_path
        for m in resource.get("productOrderErrorMessage") or []
    )


# -- a refusal by the partner ---------------------------------------------------------

REFUSED_CODE = "partnerRefused"
#: Why our items are rejected when the partner removed its copy of the order.
WITHDRAWN = "the partner PSS removed its copy of the order"
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
    refused = f"partner PSS '{partner_id}' refused the order"
    message = {**_message(REFUSED_CODE, refused, reason, moves), "timestamp": now}
    order.doc.setdefault("productOrderErrorMessage", []).append(message)
    move_items(order, partner_id, moves, now)
    return True


def change_refused(
    order: ProductOrder, partner_id: str, hop: Mapping[str, Any], reason: str
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The partner refused a change relayed to it (its validation answered 4xx): the
    partner's view of our order -> that view with the partner's answer, as a provider
    answers (``refusals.py``), judged by the provider PATCH rules.

    A change the partner was told of after acknowledging (``order.unconfirmed``) is
    refused as a provider refuses it: its items concerned go back to ``pending`` with a
    ``changeRefused`` message giving the partner's reason, and the customer is asked
    for another value. Anything else it refused (a cancellation request, a change it
    had not acknowledged yet, a supplied product) is told on its items not final as a
    ``partnerRefused`` message with the partner's reason.
    """
    carried = {(None, k) for k in hop if k in RELAYED_ORDER_FIELDS} | {
        (item.get("id"), k)
        for item in hop.get("productOrderItem") or []
        if isinstance(item, Mapping)
        for k in item
        if k in RELAYED_ITEM_FIELDS
    }
    refused = [c for c in order.unconfirmed.get(partner_id, []) if c in carried]
    not_final = [
        i for i in order.items_of(partner_id) if order.item(i).get("state") not in FINAL_STATES
    ]
    # What can go back to the customer: acknowledged, not being cancelled.
    returnable = [
        i
        for i in not_final
        if i in order.acknowledged and order.item(i).get("state") not in CANCELLING
    ]
    why = f"partner PSS '{partner_id}' refused the change"
    entries: list[dict[str, Any]] = []
    back: set[str] = set()
    for item_id, name in refused:
        items = [i for i in returnable if item_id in (None, i)]
        if items:
            back.update(items)
            entries.append(_message(REFUSED, f"{why}: {reason}", f"missing={name}", items))
    if not entries and not_final:
        entries.append(_message(REFUSED_CODE, why, reason, not_final))

    def apply(view: dict[str, Any]) -> dict[str, Any]:
        wanted = dict(view)
        wanted["productOrderErrorMessage"] = [
            *(view.get("productOrderErrorMessage") or []),
            *entries,
        ]
        wanted["productOrderItem"] = [
            {**item, "state": State.PENDING} if item.get("id") in back else item
            for item in view.get("productOrderItem") or []
        ]
        return wanted

    return apply


def _message(code: str, reason: str, message: str, items: Iterable[str]) -> dict[str, Any]:
    return {
        "@type": "ProductOrderErrorMessage",
        "code": code,
        "reason": reason,
        "message": message,
        "productOrderItem": [
            {"@type": "ProductOrderItemRef", "productOrderItemId": item_id}
            for item_id in sorted(items)
        ],
    }
