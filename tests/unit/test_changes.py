"""Who may PATCH which fields of an order (domain/changes.py), PSI-03-02-02-04."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pss_ordering.domain.changes import ChangeContext, apply_changes
from pss_ordering.domain.errors import BusinessRuleViolation, Conflict, Forbidden, PssError
from pss_ordering.domain.events import OrderValuesChanged
from pss_ordering.domain.identity import Role
from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.parties import Party
from pss_ordering.domain.visibility import Viewer, view

from .factories import (
    ALICE,
    BOB,
    GOV,
    LATER,
    NOW,
    ORG,
    PROV_A,
    PROV_B,
    PSS_1,
    caller,
    deep,
    party,
    two_provider_order,
    viewer,
)

Edit = Callable[[dict[str, Any]], object]


def patch(
    who: Viewer,
    order: ProductOrder,
    edit: Edit,
    customer: Party | None = None,
) -> bool:
    """Apply ``edit`` to the caller's view of ``order`` as the PATCH service does."""
    seen = view(who, order)
    before = deep(seen if seen is not None else order.doc)
    after = deep(before)
    edit(after)
    return apply_changes(who, order, before, after, ChangeContext(customer=customer), LATER)


def refused(
    who: Viewer, order: ProductOrder, edit: Edit, error: type[PssError], *fragments: str
) -> None:
    with pytest.raises(PssError) as info:
        patch(who, order, edit)
    assert type(info.value) is error, info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    assert not order.events


def before_work(order: ProductOrder) -> ProductOrder:
    """The order acknowledged by its providers, no work started yet."""
    for entry in order.items:
        entry["state"] = "acknowledged"
        order.acknowledged[entry["id"]] = NOW
    order.doc["state"] = "acknowledged"
    return order


def setter(key: str, value: Any) -> Edit:
    return lambda doc: doc.__setitem__(key, value)


def item_setter(index: int, key: str, value: Any) -> Edit:
    return lambda doc: doc["productOrderItem"][index].__setitem__(key, value)


# --- customer / owner ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("description", "new text"),
        ("externalId", [{"id": "ext-1"}]),
        ("notificationContact", "ops@example.org"),
        ("billingAccount", {"id": "ba-1"}),
        ("requestedStartDate", "2026-12-01T00:00:00Z"),
        ("requestedCompletionDate", "2026-12-31T00:00:00Z"),
        ("priority", "3"),
        ("category", "B2B product order"),
        ("payment", [{"id": "pay-1"}]),
    ],
)
def test_customer_may_change_own_fields_PSI_03_02_02_04(key: str, value: Any) -> None:
    """TOD-03-02: before work starts (requested dates), or at any time (the rest)."""
    order = before_work(two_provider_order())

    assert patch(viewer(ALICE), order, setter(key, value)) is True
    assert order.doc[key] == value


def test_change_records_order_values_changed_event() -> None:
    order = two_provider_order()

    patch(viewer(ALICE), order, lambda d: d.update(description="x", externalId=[{"id": "e"}]))

    assert len(order.events) == 1
    event = order.events[0]
    assert isinstance(event, OrderValuesChanged)
    assert event.order_id == "ord-1"
    assert event.occurred_at == LATER
    assert event.details == {"fields": ["description", "externalId"]}
    assert event.notification == "orderValueChangeNotification"


def test_no_difference_is_not_a_change() -> None:
    order = two_provider_order()

    assert patch(viewer(ALICE), order, lambda d: None) is False
    assert order.events == []


def test_href_differences_are_ignored() -> None:
    order = two_provider_order()

    assert patch(viewer(ALICE), order, setter("href", "http://elsewhere/x")) is False
    assert "href" not in order.doc


def test_customer_may_remove_an_owned_field() -> None:
    order = two_provider_order()

    assert patch(viewer(ALICE), order, lambda d: d.pop("description")) is True
    assert "description" not in order.doc


def test_organisation_may_change_member_order() -> None:
    order = two_provider_order()

    assert patch(viewer(ORG, "alice"), order, setter("description", "by org")) is True


def test_pss_creator_may_change_as_owner() -> None:
    order = two_provider_order(creator_id="pss-1")

    assert patch(viewer(PSS_1), order, setter("description", "by pss")) is True


@pytest.mark.parametrize(
    "key", ["expectedCompletionDate", "productOrderErrorMessage", "relatedParty", "id"]
)
def test_customer_may_not_change_other_fields_PSI_03_02_02_04(key: str) -> None:
    refused(viewer(ALICE), two_provider_order(), setter(key, ["x"]), Forbidden, f"'{key}'")


def test_customer_state_change_outside_the_table_is_a_conflict() -> None:
    """The customer may only ask to cancel an open order; anything else is 409."""
    refused(
        viewer(ALICE),
        two_provider_order(),
        setter("state", "completed"),
        Conflict,
        "inProgress",
        "completed",
        "allowed: cancelled",
    )


def test_customer_priority_change_checked_against_max_priority_PSI_01_01_02_09() -> None:
    order = two_provider_order()

    with pytest.raises(BusinessRuleViolation, match="maxPriority 2"):
        patch(viewer(ALICE), order, setter("priority", "1"), party("alice", max_priority="2"))
    assert patch(viewer(ALICE), order, setter("priority", "2"), party("alice", max_priority="2"))


def test_customer_priority_change_checked_for_range() -> None:
    refused(viewer(ALICE), two_provider_order(), setter("priority", "9"), BusinessRuleViolation)


# --- provider ---------------------------------------------------------------------------------


def test_provider_may_change_expected_completion_date_PSI_03_02_02_04() -> None:
    order = two_provider_order()

    assert patch(viewer(PROV_A), order, setter("expectedCompletionDate", LATER)) is True
    assert order.doc["expectedCompletionDate"] == LATER
    assert [e.details for e in order.events] == [{"fields": ["expectedCompletionDate"]}]


@pytest.mark.parametrize("key", ["productOrderMilestone", "productOrderErrorMessage"])
def test_provider_may_report_milestones_and_errors(key: str) -> None:
    """A provider reports about its own items (prov-a owns item 1)."""
    order = two_provider_order()
    entry = {"message": "m", "productOrderItem": [{"productOrderItemId": "1"}]}

    assert patch(viewer(PROV_A), order, setter(key, [entry])) is True
    assert order.doc[key] == [entry]


@pytest.mark.parametrize(
    "refs", [[], [{"productOrderItemId": "2"}], [{"productOrderItemId": "1"}, {}]]
)
def test_provider_reports_only_about_its_own_items(refs: list[dict[str, str]]) -> None:
    """No order-level entries from a provider (other providers would see them), none about
    another provider's item."""
    entry = {"message": "m", "productOrderItem": refs}
    refused(
        viewer(PROV_A),
        two_provider_order(),
        setter("productOrderErrorMessage", [entry]),
        Forbidden,
        "own items",
    )


@pytest.mark.parametrize(
    "key", ["description", "priority", "requestedCompletionDate", "orderTotalPrice"]
)
def test_provider_may_not_change_customer_fields_PSI_03_02_02_04(key: str) -> None:
    refused(viewer(PROV_A), two_provider_order(), setter(key, "4"), Forbidden, f"'{key}'")


def test_provider_change_keeps_other_providers_items() -> None:
    order = two_provider_order()
    full_items = deep({"items": order.doc["productOrderItem"]})["items"]

    patch(viewer(PROV_A), order, setter("expectedCompletionDate", LATER))

    assert order.doc["productOrderItem"] == full_items
    assert order.doc["orderTotalPrice"]  # not dropped although the provider never saw it


def test_provider_does_not_see_or_drop_the_total_price() -> None:
    order = two_provider_order()

    assert patch(viewer(PROV_B), order, lambda d: d.pop("orderTotalPrice", None)) is False
    assert "orderTotalPrice" in order.doc


# --- governance, final states -----------------------------------------------------------------


def test_governance_may_not_update() -> None:
    refused(viewer(GOV), two_provider_order(), setter("description", "x"), Forbidden, "governance")


@pytest.mark.parametrize("state", ["completed", "cancelled", "rejected", "failed", "partial"])
@pytest.mark.parametrize("who", [viewer(ALICE), viewer(PROV_A)], ids=["customer", "provider"])
def test_final_state_orders_cannot_change(state: str, who: Viewer) -> None:
    refused(
        who,
        two_provider_order(state=state),
        setter("note", [{"id": "n1", "text": "first"}, {"text": "more"}]),
        Conflict,
        state,
        "final state",
    )


@pytest.mark.parametrize("state", ["acknowledged", "pending", "held", "inProgress", "draft"])
def test_non_final_states_can_change(state: str) -> None:
    assert patch(viewer(ALICE), two_provider_order(state=state), setter("description", "x"))


# --- notes are append-only --------------------------------------------------------------------


@pytest.mark.parametrize("who", [viewer(ALICE), viewer(PROV_A)], ids=["customer", "provider"])
def test_note_may_be_appended(who: Viewer) -> None:
    order = two_provider_order()

    assert patch(who, order, lambda d: d["note"].append({"text": "second"})) is True
    assert [n["text"] for n in order.doc["note"]] == ["first", "second"]


def test_note_entries_cannot_be_edited() -> None:
    refused(
        viewer(ALICE),
        two_provider_order(),
        lambda d: d["note"][0].__setitem__("text", "rewritten"),
        Forbidden,
        "'note'",
        "append-only",
    )


@pytest.mark.parametrize("who", [viewer(ALICE), viewer(PROV_A)], ids=["customer", "provider"])
def test_note_entries_cannot_be_removed(who: Viewer) -> None:
    refused(who, two_provider_order(), lambda d: d.pop("note"), Forbidden, "append-only")


def test_note_cannot_be_prepended() -> None:
    refused(
        viewer(ALICE),
        two_provider_order(),
        lambda d: d["note"].insert(0, {"text": "zero"}),
        Forbidden,
        "append-only",
    )


# --- items ------------------------------------------------------------------------------------


def test_items_cannot_be_added() -> None:
    refused(
        viewer(ALICE),
        two_provider_order(),
        lambda d: d["productOrderItem"].append({"id": "4", "action": "add"}),
        BusinessRuleViolation,
        "new order that replaces this one",
    )


def test_items_cannot_be_removed() -> None:
    refused(
        viewer(ALICE),
        two_provider_order(),
        lambda d: d["productOrderItem"].pop(),
        BusinessRuleViolation,
        "cannot be added or removed",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("productOffering", {"id": "off-a2"}),
        ("product", {"id": "p-9"}),
        ("action", "delete"),
        ("quantity", 5),
    ],
)
@pytest.mark.parametrize("who", [viewer(ALICE), viewer(PROV_A)], ids=["customer", "provider"])
def test_replacement_fields_need_a_new_order(key: str, value: Any, who: Viewer) -> None:
    refused(
        who,
        two_provider_order(),
        item_setter(0, key, value),
        BusinessRuleViolation,
        f"productOrderItem '1'.{key}",
        "new order that replaces this one",
    )


def test_customer_cannot_set_item_states() -> None:
    refused(
        viewer(ALICE),
        two_provider_order(),
        item_setter(0, "state", "completed"),
        Forbidden,
        "'productOrderItem.state'",
    )


def test_other_item_fields_are_forbidden_to_providers() -> None:
    refused(
        viewer(PROV_A),
        two_provider_order(),
        item_setter(0, "billingAccount", {"id": "b"}),
        Forbidden,
        "'productOrderItem.billingAccount'",
    )


def test_item_order_in_the_list_does_not_matter() -> None:
    order = two_provider_order()

    assert patch(viewer(ALICE), order, lambda d: d["productOrderItem"].reverse()) is False


def test_provider_cannot_reach_items_it_does_not_see() -> None:
    """Provider B adding item '1' (prov-a's) to its view counts as adding an item."""
    order = two_provider_order()
    other = deep(order.doc["productOrderItem"][0])
    refused(
        viewer(PROV_B),
        order,
        lambda d: d["productOrderItem"].append(other),
        BusinessRuleViolation,
        "cannot be added or removed",
    )


# --- regressions: bugs found by these tests and fixed ---------------------------------


def test_patch_cannot_put_start_after_completion() -> None:
    order = before_work(two_provider_order())
    order.doc["requestedCompletionDate"] = "2026-12-01T00:00:00Z"

    with pytest.raises(BusinessRuleViolation):
        patch(viewer(ALICE), order, setter("requestedStartDate", "2026-12-02T00:00:00Z"))


def test_caller_without_access_cannot_change_anything() -> None:
    order = two_provider_order()
    before = deep(order.doc)
    after = deep(before)
    after["expectedCompletionDate"] = LATER

    with pytest.raises(PssError):
        apply_changes(viewer(BOB), order, before, after, ChangeContext(), LATER)


def test_provider_cannot_erase_another_providers_error_message() -> None:
    order = two_provider_order()
    order.doc["productOrderErrorMessage"] = [
        {"message": "b failed", "productOrderItem": [{"productOrderItemId": "2"}]}
    ]

    # prov-a does not even see prov-b's entry, so clearing its view changes nothing.
    assert patch(viewer(PROV_A), order, setter("productOrderErrorMessage", [])) is False
    assert order.doc["productOrderErrorMessage"] == [
        {"message": "b failed", "productOrderItem": [{"productOrderItemId": "2"}]}
    ]


@pytest.mark.parametrize("extra", [Role.CUSTOMER, Role.PSS])
def test_governance_with_an_owner_role_cannot_update_others_orders(extra: Role) -> None:
    refused(
        viewer(caller("gov", Role.GOVERNANCE, extra)),
        two_provider_order(customer_id="alice", creator_id="pss-1"),
        setter("description", "rewritten by gov"),
        Forbidden,
    )
