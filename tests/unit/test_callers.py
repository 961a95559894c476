"""Whom a caller represents, resolved from the party store (here a fake one)."""

from __future__ import annotations

from pss_ordering.service.callers import viewer, viewer_of
from tests.unit.factories import ALICE, GOV, ORG, PROV_A, PSS_1, two_provider_order


class Memberships:
    """org-1's community is itself and alice; every lookup is counted."""

    def __init__(self) -> None:
        self.lookups = 0

    def community(self, party_id: str) -> frozenset[str]:
        self.lookups += 1
        return frozenset({party_id, "alice"}) if party_id == "org-1" else frozenset({party_id})

    def belongs_to(self, member_id: str, organisation_id: str) -> bool:
        self.lookups += 1
        return organisation_id == "org-1" and member_id == "alice"


def test_a_customer_represents_its_community() -> None:
    assert viewer(Memberships(), ORG).represented == {"org-1", "alice"}
    assert viewer(Memberships(), ALICE).represented == {"alice"}


def test_other_roles_represent_themselves_without_a_lookup() -> None:
    parties = Memberships()
    for caller in (PSS_1, PROV_A, GOV):
        assert viewer(parties, caller).represented == {caller.party_id}
    assert parties.lookups == 0


def test_for_one_order_membership_is_looked_up_only_when_it_could_matter() -> None:
    parties = Memberships()
    order = two_provider_order(customer_id="alice")
    assert viewer_of(parties, ALICE, order).represented == {"alice"}
    assert parties.lookups == 0  # her own order
    assert viewer_of(parties, ORG, order).represented == {"org-1", "alice"}
    assert viewer_of(parties, ORG, None).represented == {"org-1"}
    assert parties.lookups == 1
