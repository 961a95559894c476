"""Whom a caller represents: itself, and as a customer its community (every party
that declares it as an organisation, transitively). The rules of what a viewer
sees are the domain's (``domain/visibility.py``); this only looks up the members.
"""

from __future__ import annotations

from typing import Protocol

from ..domain.identity import Caller, Role
from ..domain.orders import OrderRecord
from ..domain.visibility import Viewer


class Memberships(Protocol):
    def community(self, party_id: str) -> frozenset[str]: ...

    def belongs_to(self, member_id: str, organisation_id: str) -> bool: ...


def viewer(parties: Memberships, caller: Caller) -> Viewer:
    """The caller plus the customers it represents (itself and its community)."""
    if caller.has(Role.CUSTOMER):
        return Viewer(caller, parties.community(caller.party_id))
    return Viewer(caller, frozenset({caller.party_id}))


def viewer_of(parties: Memberships, caller: Caller, order: OrderRecord | None) -> Viewer:
    """The viewer as far as one order needs: its community only when it could matter.

    Most reads are by the order's own customer, provider or creator; only when
    a customer reads someone else's order is its membership looked up.
    """
    party = caller.party_id
    if (
        order is not None
        and caller.has(Role.CUSTOMER)
        and order.customer_id != party
        and parties.belongs_to(order.customer_id, party)
    ):
        return Viewer(caller, frozenset({party, order.customer_id}))
    return Viewer(caller, frozenset({party}))
