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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import Offering

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


def remote_id(offering: Offering) -> str | None:
    """The partner's own id for a brokered offering."""
    for ref in offering.doc.get("externalIdentifier") or []:
        if isinstance(ref, Mapping) and ref.get("owner") == offering.provider_id:
            found = ref.get("id")
            return found if isinstance(found, str) else None
    return None


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
        if isinstance(related, Mapping) and related.get("role") == "provider"
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
                "role": "provider",
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
