"""Who reads which party profile, and how much of it (PSI security.md, brief §2).

A party reads its own profile, governance every profile, in full. Beyond that,
PSI's security text makes "the party information of the customer visible to the
provider" when an order is created: a provider — and the PSS that created an
order — reads a *limited view* of every party named on an order it can see (its
``relatedParty``: the customer, contacts such as a billing or technical contact),
for as long as it can see such an order (``visibility.access``; a provider sees
submitted orders holding its items, never another provider of the same order
named there). Of those, only parties on the customer's side: the customer, the
order's creator, an organisation the customer belongs to or a fellow member of
one — a contact is named by whoever writes the order, and naming a stranger must
not hand its details to a provider. Anyone else gets 404, exactly as for an
unknown id; a limited reader that asks to change or delete the profile gets 403.

The limited view is what realising and billing an order needs: who the party is
(names, legal identification, legal form), how to reach it (``contactMedium``:
e-mail, phone, postal and billing addresses) and its tax exemptions. Never its
characteristics (response time, priority limits, grants to PSSs), its relations
(memberships, grants), credit rating, external references, nor an individual's
personal details (birth, gender, nationality, skills, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from .identity import Caller, Role

_COMMON = frozenset(
    {"id", "href", "@type", "@baseType", "contactMedium", "taxExemptionCertificate"}
)
LIMITED_FIELDS: Mapping[str, frozenset[str]] = {
    "individual": _COMMON
    | {
        "givenName",
        "familyName",
        "middleName",
        "formattedName",
        "legalName",
        "preferredGivenName",
        "title",
    },
    "organization": _COMMON
    | {"name", "tradingName", "nameType", "isLegalEntity", "organizationIdentification"},
}


class PartyAccess(Enum):
    NONE = 0
    LIMITED = 1
    FULL = 2


def reads_named_parties(caller: Caller) -> bool:
    """Whether the caller may read parties named on orders it sees (provider, PSS)."""
    return caller.has(Role.PROVIDER) or caller.has(Role.PSS)


def party_access(caller: Caller, party_id: str, named_on_visible_order: bool) -> PartyAccess:
    """``named_on_visible_order``: the party is named on an order the caller sees as a
    provider or as the PSS that created it (the store answers it)."""
    if caller.is_governance or caller.party_id == party_id:
        return PartyAccess.FULL
    if named_on_visible_order and reads_named_parties(caller):
        return PartyAccess.LIMITED
    return PartyAccess.NONE


def limited_view(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    fields = LIMITED_FIELDS[kind]
    return {key: value for key, value in doc.items() if key in fields}
