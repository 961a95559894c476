"""Party, catalog and identity rules (domain/parties.py, catalog.py, identity.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pss_ordering.domain.catalog import Offering, offering_provider
from pss_ordering.domain.errors import BusinessRuleViolation, Forbidden
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.domain.parties import (
    Party,
    characteristics,
    check_governed_characteristics,
    check_may_write,
    declared_parents,
)

from .factories import ALICE, GOV, PROV_A, PSS_1, caller


def profile(**chars: Any) -> dict[str, Any]:
    return {"partyCharacteristic": [{"name": k, "value": v} for k, v in chars.items()]}


# --- a party writes only itself ---------------------------------------------------------------


def test_party_may_write_itself_PSI_01_01_02_02() -> None:
    check_may_write(ALICE, "alice")


@pytest.mark.parametrize("who", [ALICE, PROV_A, PSS_1], ids=["customer", "provider", "pss"])
def test_party_may_not_write_another_PSI_01_01_02_04(who: Caller) -> None:
    with pytest.raises(Forbidden, match="only register or update its own"):
        check_may_write(who, "bob")


def test_governance_may_write_any_party() -> None:
    check_may_write(GOV, "bob")


# --- governed characteristics -----------------------------------------------------------------


@pytest.mark.parametrize("who", [ALICE, PROV_A, PSS_1], ids=["customer", "provider", "pss"])
def test_only_governance_sets_response_time_PSI_01_01_02_08(who: Caller) -> None:
    with pytest.raises(Forbidden, match="'responseTime'"):
        check_governed_characteristics(who, profile(), profile(responseTime="PT4H"))
    check_governed_characteristics(GOV, profile(), profile(responseTime="PT4H"))


@pytest.mark.parametrize("who", [ALICE, PROV_A, PSS_1], ids=["customer", "provider", "pss"])
def test_only_governance_sets_max_priority_PSI_01_01_02_09(who: Caller) -> None:
    with pytest.raises(Forbidden, match="'maxPriority'"):
        check_governed_characteristics(who, None, profile(maxPriority="2"))
    check_governed_characteristics(GOV, None, profile(maxPriority="2"))


def test_party_may_not_remove_its_max_priority_PSI_01_01_02_09() -> None:
    with pytest.raises(Forbidden, match="'maxPriority'"):
        check_governed_characteristics(ALICE, profile(maxPriority="2"), profile())


def test_party_may_keep_governed_values_unchanged_and_edit_others() -> None:
    old = profile(maxPriority="2", colour="red")
    check_governed_characteristics(ALICE, old, profile(maxPriority="2", colour="blue"))


@pytest.mark.parametrize("value", ["PT4H", "P1D", "P1W", "PT30M", "PT1.5S", "P1Y2M3DT4H5M6S"])
def test_valid_response_time(value: str) -> None:
    check_governed_characteristics(GOV, None, profile(responseTime=value))


@pytest.mark.parametrize("value", ["P", "PT", "4h", "P1DT", "PT4", "1D", "", 4, "pt4h"])
def test_invalid_response_time(value: Any) -> None:
    with pytest.raises(BusinessRuleViolation, match="ISO-8601 duration"):
        check_governed_characteristics(GOV, None, profile(responseTime=value))


@pytest.mark.parametrize("value", ["0", "4", 0, 3])
def test_valid_max_priority(value: Any) -> None:
    check_governed_characteristics(GOV, None, profile(maxPriority=value))


@pytest.mark.parametrize("value", ["5", "-1", "high", 2.5, ""])
def test_invalid_max_priority(value: Any) -> None:
    with pytest.raises(BusinessRuleViolation, match="0-4"):
        check_governed_characteristics(GOV, None, profile(maxPriority=value))


def test_party_max_priority_property() -> None:
    assert Party("a", "individual", (), profile(maxPriority="3")).max_priority == 3
    assert Party("a", "individual", (), profile()).max_priority is None
    assert Party("a", "individual", (), {}).characteristic("x") is None


def test_characteristics_ignores_non_objects() -> None:
    assert characteristics({"partyCharacteristic": [{"name": "a", "value": 1}, "junk"]}) == {"a": 1}


# --- declared community -----------------------------------------------------------------------


def test_individual_declares_its_organisation() -> None:
    doc = {
        "relatedParty": [
            {"role": "organization", "partyOrPartyRole": {"id": "org-1"}},
            {"role": "contact", "partyOrPartyRole": {"id": "carol"}},
            {"role": "organization", "partyOrPartyRole": {"id": "org-1"}},
        ]
    }

    assert declared_parents("individual", doc) == ("org-1",)


def test_sub_organisation_declares_parent() -> None:
    doc = {
        "organizationParentRelationship": {"organization": {"id": "org-root"}},
        "relatedParty": [{"role": "organization", "partyOrPartyRole": {"id": "org-2"}}],
    }

    assert declared_parents("organization", doc) == ("org-root", "org-2")


def test_individual_parent_relationship_is_ignored() -> None:
    doc = {"organizationParentRelationship": {"organization": {"id": "org-root"}}}

    assert declared_parents("individual", doc) == ()


# --- catalog ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "orderable"),
    [
        ({}, True),
        ({"lifecycleStatus": "Active"}, True),
        ({"lifecycleStatus": "Launched"}, True),
        ({"lifecycleStatus": "Retired"}, False),
        ({"lifecycleStatus": "obsolete"}, False),
        ({"lifecycleStatus": "REJECTED"}, False),
        ({"isSellable": False}, False),
        ({"isSellable": True, "lifecycleStatus": "active"}, True),
    ],
)
def test_offering_orderable(doc: dict[str, Any], orderable: bool) -> None:
    assert Offering("o", "p", doc).orderable is orderable


def test_required_characteristics() -> None:
    doc = {
        "prodSpecCharValueUse": [
            {"name": "site", "valueType": "string", "minCardinality": 1},
            {"name": "colour", "minCardinality": 0},
            {"name": "speed", "minCardinality": 2},
            {"minCardinality": 1},
            "junk",
        ]
    }

    assert Offering("o", "p", doc).required_characteristics == (
        ("site", "string"),
        ("speed", None),
    )


def provider_ref(party_id: Any) -> dict[str, Any]:
    return {"role": "provider", "partyOrPartyRole": {"id": party_id}}


def test_provider_publishes_own_offering_by_default() -> None:
    assert offering_provider(PROV_A, {}) == "prov-a"
    assert offering_provider(PROV_A, {"relatedParty": [provider_ref("prov-a")]}) == "prov-a"


def test_provider_may_not_publish_for_another() -> None:
    with pytest.raises(Forbidden, match="its own offerings"):
        offering_provider(PROV_A, {"relatedParty": [provider_ref("prov-b")]})


@pytest.mark.parametrize("who", [ALICE, PSS_1], ids=["customer", "pss"])
def test_non_providers_may_not_publish(who: Caller) -> None:
    with pytest.raises(Forbidden):
        offering_provider(who, {})


def test_governance_publishes_for_a_named_provider() -> None:
    assert offering_provider(GOV, {"relatedParty": [provider_ref("prov-b")]}) == "prov-b"
    with pytest.raises(BusinessRuleViolation, match="role 'provider' is required"):
        offering_provider(GOV, {})


@pytest.mark.parametrize(
    "related",
    [[provider_ref("prov-a"), provider_ref("prov-b")], [provider_ref(7)]],
    ids=["two-providers", "non-string-id"],
)
def test_offering_names_exactly_one_provider(related: list[dict[str, Any]]) -> None:
    with pytest.raises(BusinessRuleViolation, match="exactly one provider"):
        offering_provider(GOV, {"relatedParty": related})


# --- identity ---------------------------------------------------------------------------------


def test_caller_roles() -> None:
    both = caller("x", Role.PROVIDER, Role.CUSTOMER)

    assert both.has(Role.CUSTOMER) and not both.has(Role.PSS)
    assert not both.provider_only
    assert PROV_A.provider_only
    assert GOV.is_governance and not ALICE.is_governance
