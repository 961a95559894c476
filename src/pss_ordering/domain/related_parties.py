"""``relatedParty`` entries as TMF622 v5 writes them, read with exactly one meaning.

The order's document and the service's decisions must agree on who the
customer is: the customer the service acts on is the party its document names,
and every reader of the document (providers, filters, the customer itself)
finds the same. So an entry the service would read one way while the document
says another is refused, naming the v5 form to write instead:

* the TMF622 v4/v2 form, ``{"role", "id", "name", "href"}`` with the party
  at the top level. In v5 the party is under ``partyOrPartyRole``; the flat
  fields mean nothing to a v5 reader, so the entry would name no one.
* a customer not named by a party id (``partyOrPartyRole`` absent, or without
  an ``id``), or named by a ``PartyRoleRef`` whose ``partyId`` is another id than
  its own. The PSI ICD's own examples name the customer by a ``PartyRoleRef``
  (``@referredType`` Customer) without ``partyId``; this service keeps no party
  roles apart from parties (PSID632), so a customer role's id is its party's id
  and that form reads the same to every reader; a role naming a different
  ``partyId`` would not.

The role ``customer`` is matched without regard to case (as the service always
has) and written back as ``customer``, so the stored document says what the
service read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import InvalidBody
from .identity import Role
from .problems import Problems

CUSTOMER_ROLE = Role.CUSTOMER
#: Fields of a v4 ``RelatedParty`` that v5 moved under ``partyOrPartyRole``.
FLAT_FIELDS = ("id", "href", "name", "@referredType")
LEGACY, UNNAMED = "legacyRelatedParty", "customerNotNamed"


def is_customer(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("role", "")).lower() == CUSTOMER_ROLE


def related_party_problems(body: Mapping[str, Any], problems: Problems) -> None:
    """Every ``relatedParty`` entry in the body (the order's, its products') read as v5."""
    for path, entries in _related_party_lists(body, ()):
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue  # the schema names it
            where = [*path, index]
            flat = [name for name in FLAT_FIELDS if name in entry]
            if flat:
                problems.add(
                    InvalidBody,
                    where,
                    f"{', '.join(flat)} at the top of a relatedParty entry is the TMF622 v4 "
                    f"form; in v5 the party goes under partyOrPartyRole: {v5_form(entry)}",
                    LEGACY,
                )
            elif is_customer(entry) and path == ("relatedParty",):
                _check_customer(entry, where, problems)


def _check_customer(entry: Mapping[str, Any], where: list[str | int], problems: Problems) -> None:
    ref = entry.get("partyOrPartyRole")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("id"), str):
        reason = "the customer is named by partyOrPartyRole.id"
    elif ref.get("@type") == "PartyRoleRef" and ref.get("partyId") not in (None, ref["id"]):
        reason = (
            "the customer is a party: a PartyRoleRef whose partyId is not its id names two "
            "parties; name the party with a PartyRef"
        )
    else:
        return
    example = {"role": CUSTOMER_ROLE, "partyOrPartyRole": {"@type": "PartyRef", "id": "<party>"}}
    problems.add(InvalidBody, where, f"{reason}, e.g. {json.dumps(example)}", UNNAMED)


def v5_form(entry: Mapping[str, Any]) -> str:
    """The v5 entry a v4 one means, as JSON to copy."""
    party = {"@type": "PartyRef", **{k: entry[k] for k in FLAT_FIELDS if k in entry}}
    rest = {k: v for k, v in entry.items() if k not in FLAT_FIELDS}
    return json.dumps({**rest, "partyOrPartyRole": party}, ensure_ascii=False)


def canonical(entries: Sequence[Any]) -> list[Any]:
    """The entries with a customer's role written as the service reads it."""
    return [
        {**entry, "role": CUSTOMER_ROLE}
        if isinstance(entry, Mapping) and is_customer(entry) and entry["role"] != CUSTOMER_ROLE
        else entry
        for entry in entries
    ]


def _related_party_lists(
    node: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], list[Any]]]:
    if isinstance(node, list):
        for index, element in enumerate(node):
            yield from _related_party_lists(element, (*path, index))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key == "relatedParty" and isinstance(value, list):
                yield (*path, key), value
            yield from _related_party_lists(value, (*path, key))
