"""Need-to-know: who sees an order, and what of it (PSI-03-02-02-04, -03-01/-02, -04-01).

A party that may not see an order gets the same answer as for an order that
does not exist. A provider sees only orders holding at least one of its items,
and then only its own items; it never sees a draft, nor a draft cancelled
before it was submitted. Of what the providers write on the order, a provider
sees its own only: another provider's notes, expected completion date,
messages and milestones are not shown to it (``authorship.py`` has the rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .authorship import EXPECTED, NOTE
from .identity import Caller, Role
from .missing import is_order_request
from .orders import OrderRecord


class Access(Enum):
    NONE = 0
    PROVIDER = 1
    FULL = 2


@dataclass(frozen=True, slots=True)
class Viewer:
    """A caller together with the customers it represents (itself and its members)."""

    caller: Caller
    represented: frozenset[str]

    @property
    def party_id(self) -> str:
        return self.caller.party_id


def access(viewer: Viewer, order: OrderRecord) -> Access:
    caller = viewer.caller
    if caller.is_governance:
        return Access.FULL
    if caller.has(Role.CUSTOMER) and order.customer_id in viewer.represented:
        return Access.FULL
    if caller.has(Role.PSS) and order.creator_id == caller.party_id:
        return Access.FULL
    if (
        caller.has(Role.PROVIDER)
        and order.submitted_at is not None
        and caller.party_id in order.provider_ids
    ):
        return Access.PROVIDER
    return Access.NONE


def view(viewer: Viewer, order: OrderRecord) -> dict[str, Any] | None:
    """The order as this viewer may see it, or None when it may not see it at all."""
    level = access(viewer, order)
    if level is Access.NONE:
        return None
    if level is Access.FULL:
        return order.doc
    return provider_view(order, viewer.party_id)


ITEM_REFERENCING_LISTS = (
    "productOrderErrorMessage",
    "productOrderMilestone",
    "productOrderJeopardyAlert",
)


def _concerns_only(entry: Any, mine: set[str]) -> bool:
    """An order-level entry, or one whose item references are all the provider's."""
    refs = entry.get("productOrderItem") if isinstance(entry, dict) else None
    return not refs or all(
        isinstance(ref, dict) and ref.get("productOrderItemId") in mine for ref in refs
    )


def provider_view(order: OrderRecord, provider_id: str) -> dict[str, Any]:
    """Only the provider's items; no order totals; no other provider's references,
    notes or expected completion date (its own is the order's, for it); of the
    information the order itself waits for, only what concerns this provider."""
    mine = {item_id for item_id, owner in order.item_providers.items() if owner == provider_id}
    doc = {k: v for k, v in order.doc.items() if k != "orderTotalPrice"}
    items = []
    for item in order.doc.get("productOrderItem") or []:
        if item.get("id") not in mine:
            continue
        relationships = item.get("productOrderItemRelationship")
        if relationships:
            item = dict(item)
            item["productOrderItemRelationship"] = [
                rel for rel in relationships if rel.get("id") in mine
            ]
        items.append(item)
    doc["productOrderItem"] = items
    asked = {m.field_path for m in order.missing if provider_id in m.concerns}
    for key in ITEM_REFERENCING_LISTS:
        if doc.get(key):
            doc[key] = [
                entry
                for entry in doc[key]
                if _concerns_only(entry, mine)
                and (not is_order_request(entry) or entry.get("message") in asked)
            ]
            if not doc[key]:
                del doc[key]  # not even an empty list hints at another provider's entries
    authorship = order.authorship
    if doc.get(NOTE) and authorship.notes:
        doc[NOTE] = authorship.notes_for(doc[NOTE], provider_id)
        if not doc[NOTE]:
            del doc[NOTE]
    own = authorship.expected.get(provider_id)
    if own is None:
        doc.pop(EXPECTED, None)
    else:
        doc[EXPECTED] = own
    others = order.provider_ids - {provider_id}
    if others and doc.get("relatedParty"):
        doc["relatedParty"] = [
            rel
            for rel in doc["relatedParty"]
            if (rel.get("partyOrPartyRole") or {}).get("id") not in others
        ]
    return doc
