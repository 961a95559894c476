"""The phased field table and a provider's refusal, without a database (TOD-03-02,
PSI-03-02-02-02, PSI-03-02-02-04): ``field_rights``, ``progress.order_phase`` and
``refusals``."""

from __future__ import annotations

from typing import Any

import pytest

from pss_ordering.domain import progress, refusals
from pss_ordering.domain.changes import ChangeContext, apply_changes
from pss_ordering.domain.errors import BusinessRuleViolation, Conflict, Forbidden
from pss_ordering.domain.events import OrderInformationRequired
from pss_ordering.domain.field_rights import Phase, Writer, check_writable
from pss_ordering.domain.identity import Role
from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.party_views import PartyAccess, limited_view, party_access
from pss_ordering.domain.visibility import view

from .factories import ALICE, LATER, NOW, PROV_A, PROV_B, caller, deep, two_provider_order, viewer


def acknowledged() -> ProductOrder:
    order = two_provider_order(state="acknowledged")
    for item in order.items:
        item["state"] = "acknowledged"
        order.acknowledged[item["id"]] = NOW
    return order


def change(who: Any, order: ProductOrder, edit: Any) -> None:
    before = view(who, order)
    assert before is not None
    after = deep(before)
    edit(after)
    apply_changes(who, order, deep(before), after, ChangeContext(), LATER)


def test_check_writable_403_never_409_not_now() -> None:
    check_writable(Writer.OWNER, "billingAccount", Phase.STARTED)
    with pytest.raises(Conflict, match="submitted"):
        check_writable(Writer.OWNER, "requestedStartDate", Phase.STARTED)
    with pytest.raises(Forbidden):
        check_writable(Writer.PROVIDER, "billingAccount", Phase.SUBMITTED)
    with pytest.raises(Forbidden):
        check_writable(Writer.OWNER, "orderRelationship", Phase.SUBMITTED)
    with pytest.raises(Conflict):
        check_writable(Writer.OWNER, "requestedEndDate", Phase.STARTED, item_id="1")


def test_phases_follow_the_lifecycle() -> None:
    order = acknowledged()
    assert progress.order_phase(order) is Phase.SUBMITTED
    order.item("2")["state"] = "pending"
    order.resume["2"] = "inProgress"  # waiting for information after work started
    assert progress.order_phase(order) is Phase.STARTED
    assert progress.item_phase(order, "2") is Phase.STARTED
    assert progress.item_phase(order, "1") is Phase.SUBMITTED
    order.item("1")["state"] = "completed"
    assert progress.item_phase(order, "1") is None


def test_an_owner_change_is_refusable_by_the_providers_that_acknowledged_it() -> None:
    order = acknowledged()
    order.acknowledged.pop("2")
    change(viewer(ALICE, "alice"), order, lambda d: d.update(billingAccount={"id": "b"}))
    assert order.unconfirmed == {"prov-a": [(None, "billingAccount")]}
    change(viewer(ALICE, "alice"), order, lambda d: d.update(note=[*d["note"], {"text": "hi"}]))
    assert order.unconfirmed == {"prov-a": [(None, "billingAccount")]}, "a note is not refusable"


def _refusal(item: str, message: str = "missing=billingAccount", reason: str = "closed") -> Any:
    entry = {
        "code": "changeRefused",
        "reason": reason,
        "message": message,
        "productOrderItem": [{"productOrderItemId": item}],
    }

    def edit(doc: dict[str, Any]) -> None:
        doc["productOrderErrorMessage"] = [*doc.get("productOrderErrorMessage", []), entry]
        for i in doc["productOrderItem"]:
            if i["id"] == item:
                i["state"] = "pending"

    return edit


def test_a_refusal_sends_the_item_back_and_another_value_resumes_it() -> None:
    order = acknowledged()

    def set_account(doc: dict[str, Any]) -> None:
        doc["productOrderItem"][1]["billingAccount"] = {"id": "b1"}

    change(viewer(ALICE, "alice"), order, set_account)
    assert order.unconfirmed == {"prov-b": [("2", "billingAccount")]}
    order.events.clear()
    change(viewer(PROV_B), order, _refusal("2"))
    assert order.item("2")["state"] == "pending"
    assert order.unconfirmed == {}
    [asked] = [e for e in order.events if isinstance(e, OrderInformationRequired)]
    assert asked.details == {
        "resourcePath": "/productOrder/ord-1/productOrderItem/2",
        "fieldPath": "missing=billingAccount",
    }
    change(viewer(ALICE, "alice"), order, set_account)  # the same value: still missing
    assert order.item("2")["state"] == "pending"

    def other(doc: dict[str, Any]) -> None:
        doc["productOrderItem"][1]["billingAccount"] = {"id": "b2"}

    change(viewer(ALICE, "alice"), order, other)
    assert order.item("2")["state"] == "acknowledged"
    assert order.missing == []


@pytest.mark.parametrize(
    ("who", "edit", "error"),
    [
        (PROV_A, _refusal("1"), BusinessRuleViolation),  # nothing of prov-a's changed
        (PROV_B, _refusal("2", reason=" "), BusinessRuleViolation),  # no reason
        (PROV_B, _refusal("2", message="missing=a.b"), BusinessRuleViolation),  # not a field
        (PROV_B, _refusal("1"), Forbidden),  # another provider's item
    ],
)
def test_what_cannot_be_refused(who: Any, edit: Any, error: type[Exception]) -> None:
    order = acknowledged()

    def set_account(doc: dict[str, Any]) -> None:
        doc["productOrderItem"][1]["billingAccount"] = {"id": "b1"}

    change(viewer(ALICE, "alice"), order, set_account)
    with pytest.raises(error):
        change(viewer(who), order, edit)


def test_moving_work_on_accepts() -> None:
    order = acknowledged()
    change(viewer(ALICE, "alice"), order, lambda d: d.update(category="B2B"))
    assert set(order.unconfirmed) == {"prov-a", "prov-b"}
    change(viewer(PROV_A), order, lambda d: d.update(state="inProgress"))
    assert set(order.unconfirmed) == {"prov-b"}
    refusals.accepted(order, "prov-b")
    assert order.unconfirmed == {}


def test_party_access_and_the_limited_view() -> None:
    provider, pss = caller("prov-a", Role.PROVIDER), caller("pss-1", Role.PSS)
    assert party_access(provider, "dave", named_on_visible_order=True) is PartyAccess.LIMITED
    assert party_access(pss, "dave", named_on_visible_order=True) is PartyAccess.LIMITED
    assert party_access(ALICE, "dave", named_on_visible_order=True) is PartyAccess.NONE
    assert party_access(provider, "dave", named_on_visible_order=False) is PartyAccess.NONE
    assert party_access(provider, "prov-a", named_on_visible_order=False) is PartyAccess.FULL
    doc = {
        "id": "o",
        "name": "O",
        "partyCharacteristic": [],
        "relatedParty": [],
        "creditRating": [],
    }
    assert limited_view("organization", doc) == {"id": "o", "name": "O"}
