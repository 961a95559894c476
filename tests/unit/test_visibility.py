"""Need-to-know visibility (domain/visibility.py): PSI-03-02-02-04, -03-02, -04-01."""

from __future__ import annotations

import pytest

from pss_ordering.domain.identity import Role
from pss_ordering.domain.visibility import Access, Viewer, access, provider_view, view

from .factories import (
    ALICE,
    BOB,
    GOV,
    ORG,
    PROV_A,
    PROV_B,
    PROV_C,
    PSS_1,
    PSS_2,
    caller,
    deep,
    two_provider_order,
    viewer,
)

MATRIX = [
    ("customer-own", viewer(ALICE), Access.FULL),
    ("customer-other", viewer(BOB), Access.NONE),
    ("org-sees-member", viewer(ORG, "alice"), Access.FULL),
    ("org-without-member", viewer(ORG), Access.NONE),
    ("pss-creator", viewer(PSS_1), Access.FULL),
    ("pss-other", viewer(PSS_2), Access.NONE),
    ("provider-with-items", viewer(PROV_A), Access.PROVIDER),
    ("other-provider-with-items", viewer(PROV_B), Access.PROVIDER),
    ("provider-without-items", viewer(PROV_C), Access.NONE),
    ("governance", viewer(GOV), Access.FULL),
]


@pytest.mark.parametrize(
    ("who", "expected"), [(w, e) for _, w, e in MATRIX], ids=[name for name, _, _ in MATRIX]
)
def test_access_matrix_PSI_03_02_03_02(who: Viewer, expected: Access) -> None:
    order = two_provider_order(customer_id="alice", creator_id="pss-1")

    assert access(who, order) is expected


@pytest.mark.parametrize(
    ("who", "expected"), [(w, e) for _, w, e in MATRIX], ids=[name for name, _, _ in MATRIX]
)
def test_view_matrix_PSI_03_02_04_01(who: Viewer, expected: Access) -> None:
    """view() returns the full document, a provider view, or None (same as not found)."""
    order = two_provider_order(customer_id="alice", creator_id="pss-1")
    seen = view(who, order)

    if expected is Access.NONE:
        assert seen is None
    elif expected is Access.FULL:
        assert seen == order.doc
    else:
        assert seen == provider_view(order, who.party_id)
        assert seen != order.doc


def test_pss_role_without_creating_gets_no_access_even_if_customer_is_known() -> None:
    order = two_provider_order(customer_id="alice", creator_id="alice")

    assert access(viewer(PSS_1, "alice"), order) is Access.NONE


def test_customer_role_is_needed_for_represented_access() -> None:
    """A provider 'representing' the customer id does not get customer access from it."""
    order = two_provider_order()

    assert access(Viewer(PROV_C, frozenset({"prov-c", "alice"})), order) is Access.NONE


def test_customer_who_is_also_provider_gets_full_view_of_own_order() -> None:
    both = caller("alice", Role.CUSTOMER, Role.PROVIDER)
    order = two_provider_order()
    order.item_providers["2"] = "alice"

    assert access(viewer(both), order) is Access.FULL


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (viewer(ALICE), Access.FULL),
        (viewer(ORG, "alice"), Access.FULL),
        (viewer(PSS_1), Access.FULL),
        (viewer(GOV), Access.FULL),
        (viewer(PROV_A), Access.NONE),
        (viewer(PROV_B), Access.NONE),
    ],
    ids=["customer", "org", "pss-creator", "governance", "provider-a", "provider-b"],
)
def test_providers_never_see_drafts_PSI_03_02_03_02(who: Viewer, expected: Access) -> None:
    order = two_provider_order(state="draft", creator_id="pss-1")

    assert access(who, order) is expected
    assert (view(who, order) is None) is (expected is Access.NONE)


@pytest.mark.parametrize("state", ["acknowledged", "pending", "inProgress", "completed"])
def test_providers_see_non_draft_states(state: str) -> None:
    assert access(viewer(PROV_A), two_provider_order(state=state)) is Access.PROVIDER


# --- what a provider sees ---------------------------------------------------------------------


def test_provider_view_holds_only_its_items() -> None:
    seen = view(viewer(PROV_A), two_provider_order())

    assert seen is not None
    assert [i["id"] for i in seen["productOrderItem"]] == ["1", "3"]
    seen_b = view(viewer(PROV_B), two_provider_order())
    assert seen_b is not None
    assert [i["id"] for i in seen_b["productOrderItem"]] == ["2"]


def test_provider_view_has_no_order_total_price() -> None:
    seen = view(viewer(PROV_A), two_provider_order())

    assert seen is not None
    assert "orderTotalPrice" not in seen


def test_provider_view_keeps_relationships_only_to_its_items() -> None:
    seen_a = view(viewer(PROV_A), two_provider_order())
    seen_b = view(viewer(PROV_B), two_provider_order())

    assert seen_a is not None and seen_b is not None
    first = seen_a["productOrderItem"][0]
    assert [r["id"] for r in first["productOrderItemRelationship"]] == ["3"]
    assert seen_b["productOrderItem"][0]["productOrderItemRelationship"] == []


def test_provider_view_drops_other_providers_from_related_party() -> None:
    seen = view(viewer(PROV_A), two_provider_order())

    assert seen is not None
    ids = [r["partyOrPartyRole"]["id"] for r in seen["relatedParty"]]
    assert ids == ["alice", "prov-a"]


def test_provider_view_keeps_order_level_fields() -> None:
    order = two_provider_order()
    seen = view(viewer(PROV_A), order)

    assert seen is not None
    for key in ("id", "@type", "state", "creationDate", "description", "note"):
        assert seen[key] == order.doc[key]


def test_provider_view_does_not_mutate_the_stored_order() -> None:
    order = two_provider_order()
    before = deep(order.doc)

    provider_view(order, "prov-a")
    provider_view(order, "prov-b")

    assert order.doc == before


def test_sole_provider_sees_all_items_but_still_no_total() -> None:
    order = two_provider_order()
    order.item_providers = {"1": "prov-a", "2": "prov-a", "3": "prov-a"}
    seen = provider_view(order, "prov-a")

    assert [i["id"] for i in seen["productOrderItem"]] == ["1", "2", "3"]
    assert "orderTotalPrice" not in seen
    assert seen["relatedParty"] == order.doc["relatedParty"]


def test_provider_and_pss_roles_combine_to_the_widest_access() -> None:
    both = caller("pss-1", Role.PSS, Role.PROVIDER)
    order = two_provider_order(creator_id="pss-1")
    order.item_providers["2"] = "pss-1"

    assert access(viewer(both), order) is Access.FULL


# --- regressions: bugs found by these tests and fixed ---------------------------------


def test_provider_view_hides_error_messages_about_other_providers_items() -> None:
    order = two_provider_order()
    order.doc["productOrderErrorMessage"] = [
        {"message": "prov-b: site unreachable", "productOrderItem": [{"productOrderItemId": "2"}]}
    ]
    seen = provider_view(order, "prov-a")

    referenced = [
        ref["productOrderItemId"]
        for message in seen.get("productOrderErrorMessage") or []
        for ref in message.get("productOrderItem") or []
    ]
    assert "2" not in referenced
