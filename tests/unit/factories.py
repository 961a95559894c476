"""Small builders for domain unit tests: callers, offerings, order bodies, stored orders.

Everything here is plain data; no database, no HTTP. Party ids used throughout:

* ``alice`` / ``bob``: customers; ``org-1``: an organisation whose member is ``alice``
* ``pss-1`` / ``pss-2``: other PSSs; ``prov-a`` / ``prov-b`` / ``prov-c``: providers
* ``gov``: governance
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pss_ordering.domain.catalog import Offering
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.domain.orders import OrderingContext, ProductOrder
from pss_ordering.domain.parties import Party
from pss_ordering.domain.timestamps import Instant
from pss_ordering.domain.visibility import Viewer

NOW = Instant("2026-11-24T12:00:00.000Z")
LATER = Instant("2026-11-24T13:00:00.000Z")


def caller(party_id: str, *roles: Role) -> Caller:
    return Caller(party_id, frozenset(roles or (Role.CUSTOMER,)))


ALICE = caller("alice", Role.CUSTOMER)
BOB = caller("bob", Role.CUSTOMER)
ORG = caller("org-1", Role.CUSTOMER)
PSS_1 = caller("pss-1", Role.PSS)
PSS_2 = caller("pss-2", Role.PSS)
PROV_A = caller("prov-a", Role.PROVIDER)
PROV_B = caller("prov-b", Role.PROVIDER)
PROV_C = caller("prov-c", Role.PROVIDER)
GOV = caller("gov", Role.GOVERNANCE)


def viewer(who: Caller, *represented: str) -> Viewer:
    """A viewer representing itself plus ``represented`` (an organisation's members)."""
    return Viewer(who, frozenset({who.party_id, *represented}))


def offering(offering_id: str, provider_id: str, **doc: Any) -> Offering:
    return Offering(
        offering_id, provider_id, {"id": offering_id, "lifecycleStatus": "Active", **doc}
    )


OFFERINGS: dict[str, Offering] = {
    o.id: o
    for o in (
        offering("off-a", "prov-a"),
        offering("off-a2", "prov-a"),
        offering("off-b", "prov-b"),
        offering("off-retired", "prov-a", lifecycleStatus="retired"),
    )
}


def item(
    item_id: str = "1", offering_id: str = "off-a", action: str = "add", **extra: Any
) -> dict[str, Any]:
    return {
        "@type": "ProductOrderItem",
        "id": item_id,
        "action": action,
        "productOffering": {"id": offering_id},
        **extra,
    }


def relate(item_doc: dict[str, Any], *targets: str) -> dict[str, Any]:
    """Add ``reliesOn`` relationships from ``item_doc`` to the target item ids."""
    item_doc.setdefault("productOrderItemRelationship", []).extend(
        {"id": target, "relationshipType": "reliesOn"} for target in targets
    )
    return item_doc


def body(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"productOrderItem": list(items) or [item()], **extra}


def customer_ref(party_id: str) -> dict[str, Any]:
    return {"role": "customer", "partyOrPartyRole": {"@type": "PartyRef", "id": party_id}}


def party(
    party_id: str,
    *,
    max_priority: str | None = None,
    kind: str = "individual",
    grants: tuple[str, ...] = (),
    characteristics: Mapping[str, Any] | None = None,
) -> Party:
    """A profile; ``grants`` are the PSSs it lets order on its behalf."""
    values = dict(characteristics or {})
    if max_priority is not None:
        values["maxPriority"] = max_priority
    chars = [{"name": name, "value": value} for name, value in values.items()]
    related = [{"role": "pss", "partyOrPartyRole": {"id": pss}} for pss in grants]
    doc = {"id": party_id, "partyCharacteristic": chars, "relatedParty": related}
    return Party(party_id, kind, (), doc)


def context(
    who: Caller,
    *represented: str,
    offerings: Mapping[str, Offering] | None = None,
    customer: Party | None = None,
    customer_profiles: tuple[Party, ...] = (),
    caller_profile: Party | None = None,
    replaced: ProductOrder | None = None,
) -> OrderingContext:
    return OrderingContext(
        caller=who,
        represented=frozenset({who.party_id, *represented}),
        offerings=OFFERINGS if offerings is None else offerings,
        customer=customer,
        customer_profiles=customer_profiles,
        caller_profile=caller_profile,
        replaced=replaced,
    )


def two_provider_order(
    *, state: str = "inProgress", customer_id: str = "alice", creator_id: str = "alice"
) -> ProductOrder:
    """An order with items 1 and 3 from prov-a and item 2 from prov-b.

    Item 1 relates to items 2 and 3; item 2 relates to item 1.
    """
    doc: dict[str, Any] = {
        "id": "ord-1",
        "@type": "ProductOrder",
        "state": state,
        "creationDate": NOW,
        "description": "two providers",
        "orderTotalPrice": [{"name": "total", "price": {"taxIncludedAmount": {"value": 30}}}],
        "note": [{"id": "n1", "text": "first"}],
        "relatedParty": [
            customer_ref(customer_id),
            {"role": "provider", "partyOrPartyRole": {"id": "prov-a"}},
            {"role": "provider", "partyOrPartyRole": {"id": "prov-b"}},
        ],
        "productOrderItem": [
            relate(item("1", "off-a", state="inProgress"), "2", "3"),
            relate(item("2", "off-b", state="inProgress"), "1"),
            item("3", "off-a2", state="inProgress", quantity=2),
        ],
    }
    return ProductOrder(
        id="ord-1",
        customer_id=customer_id,
        creator_id=creator_id,
        item_providers={"1": "prov-a", "2": "prov-b", "3": "prov-a"},
        doc=doc,
        submitted_at=None if state == "draft" else NOW,
    )


def deep(doc: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(doc))
