"""The pure rules of Pooling & Sharing between PSSs (``domain/federation.py``, issue 13).

What travels down to a partner PSS (only the customer's doing, never the
partner's own reports echoed back), how the partner's states map onto ours,
what a partner's refusal does, which offerings are brokered and never
re-exported, and the periodic sync's loop (``events/background.repeat``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pss_ordering.domain import federation, inbound
from pss_ordering.domain.catalog import Offering
from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.timestamps import Instant
from pss_ordering.events.background import repeat

NOW = Instant("2026-11-24T12:00:00.000Z")


def _envelope(event_type: str, **order: Any) -> dict[str, Any]:
    return {
        "eventId": "e-1",
        "eventTime": NOW,
        "eventType": event_type,
        "event": {"productOrder": {"id": "a-1", **order}},
    }


ITEM = {
    "id": "2",
    "action": "add",
    "state": "pending",
    "productOffering": {"id": "pss-b.lift", "href": "x"},
    "quantity": 1,
}


def test_a_creation_travels_with_the_partners_items_under_its_offering_ids() -> None:
    """Per-hop id (ours), the partner's own offering id, no state, no customer of ours."""
    envelope = _envelope(
        "orderCreationNotification",
        productOrderItem=[ITEM],
        description="lift for site 4",
        relatedParty=[{"role": "customer", "partyOrPartyRole": {"id": "carol"}}],
        state="pending",
    )
    relayed = federation.relay_down(envelope, {}, "pss-b")
    assert relayed == {
        "eventId": "e-1",
        "eventTime": NOW,
        "eventType": "orderCreationNotification",
        "event": {
            "productOrder": {
                "id": "a-1",
                "description": "lift for site 4",
                "productOrderItem": [
                    {"id": "2", "action": "add", "productOffering": {"id": "lift"}, "quantity": 1}
                ],
            }
        },
    }


@pytest.mark.parametrize(
    ("details", "relayed"),
    [
        ({"from": "acknowledged", "to": "assessingCancellation"}, True),  # C asks to cancel
        ({"from": "pending", "to": "cancelled"}, True),  # C cancels before any ack
        ({"from": "inProgress", "to": "pendingCancellation"}, True),
        ({"from": "assessingCancellation", "to": "cancelled"}, False),  # B's acceptance echoed
        ({"from": "pendingCancellation", "to": "cancelled"}, False),
        ({"from": "pending", "to": "acknowledged"}, False),  # B's own progress
        ({"from": "inProgress", "to": "completed"}, False),
    ],
)
def test_only_the_customers_cancellation_travels_down(
    details: dict[str, str], relayed: bool
) -> None:
    envelope = _envelope(
        "orderStateChangeNotification", state=details["to"], cancellationReason="moved"
    )
    found = federation.relay_down(envelope, details, "pss-b")
    if not relayed:
        assert found is None
        return
    assert found is not None
    assert found["event"]["productOrder"] == {
        "id": "a-1",
        "state": "cancelled",
        "cancellationReason": "moved",
    }


def test_value_changes_travel_down_only_when_they_mean_something_there() -> None:
    """What the customer writes travels (dates, billing, notes without their author, a
    supplied product, an item's billing; null for a value removed); the partner's own
    reports (its item moves, messages, expected completion) and our references do not."""
    supplied = {**ITEM, "product": {"productCharacteristic": [{"name": "IMEI", "value": "1"}]}}
    envelope = _envelope(
        "orderValueChangeNotification",
        productOrderItem=[{**supplied, "billingAccount": {"id": "ba-2"}}],
        requestedStartDate=NOW,
        billingAccount={"id": "ba"},
        note=[{"text": "gate code 12", "author": "carol"}],
        externalId=[{"id": "c-7", "owner": "carol"}],
    )
    fields = {
        "fields": [
            "billingAccount",
            "externalId",
            "note",
            "payment",
            "productOrderItem",
            "productOrderItem.billingAccount",
            "productOrderItem.product",
            "requestedStartDate",
        ]
    }
    relayed = federation.relay_down(envelope, fields, "pss-b")
    assert relayed is not None
    assert relayed["event"]["productOrder"] == {
        "id": "a-1",
        "billingAccount": {"id": "ba"},
        "note": [{"text": "gate code 12"}],
        "payment": None,
        "requestedStartDate": NOW,
        "productOrderItem": [
            {"id": "2", "billingAccount": {"id": "ba-2"}, "product": supplied["product"]}
        ],
    }
    for echo in (
        ["productOrderErrorMessage"],
        ["expectedCompletionDate"],
        ["productOrderItem"],  # a provider moved its items
        ["externalId", "relatedParty"],
    ):
        assert federation.relay_down(envelope, {"fields": echo}, "pss-b") is None
    info = _envelope("orderInformationRequiredNotification")
    assert federation.relay_down(info, {}, "pss-b") is None


def test_a_relayed_change_applies_at_the_partner_as_a_merge() -> None:
    """At B (``inbound.merge``): null removes a field (an item's too), and a note sent
    again without the author B gave it is the same note, not a new one."""
    view = {
        "id": "b-1",
        "payment": [{"id": "p"}],
        "note": [{"text": "gate code 12", "author": "pss-a"}],
        "productOrderItem": [{"id": "2", "billingAccount": {"id": "ba"}, "state": "pending"}],
    }
    relayed = {
        "id": "a-1",
        "payment": None,
        "note": [{"text": "gate code 12"}, {"text": "ring twice"}],
        "productOrderItem": [{"id": "2", "billingAccount": None}],
    }
    assert inbound.merge(view, relayed) == {
        "id": "b-1",
        "note": [{"text": "gate code 12", "author": "pss-a"}, {"text": "ring twice"}],
        "productOrderItem": [{"id": "2", "state": "pending"}],
    }


@pytest.mark.parametrize(
    ("states", "relayed"),
    [
        (["pending"], True),
        (["acknowledged", "completed"], True),
        (["completed", "failed"], False),  # nothing open there
        (["assessingCancellation"], False),  # its cancellation is already asked for
        ([], False),
    ],
)
def test_a_removal_travels_as_a_cancellation_while_the_partner_has_open_items(
    states: list[str], relayed: bool
) -> None:
    items = [{**ITEM, "id": str(n), "state": s} for n, s in enumerate(states)]
    envelope = _envelope("orderRemoveNotification", productOrderItem=items)
    found = federation.relay_down(envelope, {}, "pss-b")
    if not relayed:
        assert found is None
        return
    assert found is not None
    assert found["eventType"] == "orderStateChangeNotification"
    assert found["event"]["productOrder"] == {
        "id": "a-1",
        "state": "cancelled",
        "cancellationReason": federation.REMOVED_REASON,
    }


@pytest.mark.parametrize(
    ("theirs", "ours", "becomes"),
    [
        ("acknowledged", "pending", "acknowledged"),
        ("completed", "inProgress", "completed"),
        ("cancelled", "assessingCancellation", "pendingCancellation"),  # B accepted
        ("pendingCancellation", "assessingCancellation", "pendingCancellation"),
        ("acknowledged", "assessingCancellation", "acknowledged"),  # B refused: back
        ("cancelled", "pendingCancellation", "pendingCancellation"),  # ours settles it
        ("acknowledged", "cancelled", "cancelled"),  # final here stays final
        ("pending", "acknowledged", "pending"),  # information required there
    ],
)
def test_the_partners_item_states_map_onto_ours(theirs: str, ours: str, becomes: str) -> None:
    assert federation.item_state_up(theirs, ours) == becomes


def test_what_comes_up_is_only_what_a_provider_reports() -> None:
    """The partner's copy (its ids, customer, milestones, own information messages)
    becomes our items' states, its expected completion and its other messages."""
    view = {"id": "a-1", "state": "pending", "productOrderItem": [dict(ITEM)]}
    theirs = {
        "id": "b-9",
        "state": "acknowledged",
        "relatedParty": [{"role": "customer", "partyOrPartyRole": {"id": "pss-a"}}],
        "productOrderMilestone": [{"id": "responseDeadline:prov-p"}],
        "expectedCompletionDate": NOW,
        "productOrderItem": [{"id": "2", "state": "acknowledged"}, {"id": "9", "state": "x"}],
        "productOrderErrorMessage": [
            {"code": "informationRequired", "message": "missing=..."},
            {"code": "late", "message": "crane delayed"},
        ],
    }
    wanted = federation.up_patcher(theirs)(view)
    assert wanted == {
        "id": "a-1",
        "state": "pending",
        "productOrderItem": [{**ITEM, "state": "acknowledged"}],
        "expectedCompletionDate": NOW,
        "productOrderErrorMessage": [{"code": "late", "message": "crane delayed"}],
    }
    assert federation.order_candidates(
        {"externalId": [{"id": "a-1", "externalIdentifierType": "ProductOrder"}, {"id": "z"}]}
    ) == ["a-1"]


def _order(*states: tuple[str, str, str]) -> ProductOrder:
    """(item id, provider, state) per item."""
    return ProductOrder(
        id="a-1",
        customer_id="carol",
        creator_id="carol",
        item_providers={i: p for i, p, _ in states},
        doc={
            "id": "a-1",
            "state": "pending",
            "productOrderItem": [{"id": i, "state": s} for i, _, s in states],
        },
    )


def test_a_refusal_rejects_the_partners_items_with_its_reason() -> None:
    order = _order(("1", "prov-a", "pending"), ("2", "pss-b", "pending"))
    reason = federation.refusal_reason(
        422, b'{"code":"X","message":"offering \'crane\' does not exist"}'
    )
    assert reason == "HTTP 422: offering 'crane' does not exist"
    assert federation.refuse_items(order, "pss-b", reason, NOW)
    assert order.state == "rejected"
    [message] = order.doc["productOrderErrorMessage"]
    assert message["code"] == "partnerRefused" and message["message"] == reason
    assert federation.refusal_reason(400, b"<html>") == "HTTP 400"
    assert not federation.refuse_items(order, "pss-b", reason, NOW)  # nothing open left


def test_a_refusal_after_work_started_fails_the_partners_items() -> None:
    order = _order(("1", "prov-a", "inProgress"), ("2", "pss-b", "pending"))
    order.acknowledged = {"1": NOW}
    assert federation.refuse_items(order, "pss-b", "HTTP 409", NOW)
    assert order.item("2")["state"] == "failed"


def test_a_refused_change_is_the_partners_answer_to_it() -> None:
    """A change the partner was awaited on (acknowledged, ``unconfirmed``) comes back as
    its changeRefused, only on items that can go back to the customer; a refusal of
    anything else (here: a cancellation, item assessed) is a partnerRefused message on
    its items not final; nothing is answered on final items."""
    order = _order(
        ("1", "pss-b", "acknowledged"),
        ("2", "pss-b", "assessingCancellation"),
        ("3", "pss-b", "completed"),
    )
    order.acknowledged = {"1": NOW, "2": NOW, "3": NOW}
    order.unconfirmed = {"pss-b": [(None, "billingAccount"), ("2", "note")]}
    hop = {"id": "a-1", "billingAccount": {"id": "ba"}, "productOrderItem": [{"id": "2"}]}
    answered = federation.change_refused(order, "pss-b", hop, "HTTP 422: closed")(order.doc)
    [message] = answered["productOrderErrorMessage"]
    assert (message["code"], message["message"]) == ("changeRefused", "missing=billingAccount")
    assert message["reason"] == "partner PSS 'pss-b' refused the change: HTTP 422: closed"
    assert message["productOrderItem"] == [
        {"@type": "ProductOrderItemRef", "productOrderItemId": "1"}
    ]
    assert [i["state"] for i in answered["productOrderItem"]] == [
        "pending",
        "assessingCancellation",
        "completed",
    ]
    cancel = {"id": "a-1", "state": "cancelled"}
    told = federation.change_refused(order, "pss-b", cancel, "HTTP 409: done")(order.doc)
    [message] = told["productOrderErrorMessage"]
    assert (message["code"], message["message"]) == ("partnerRefused", "HTTP 409: done")
    assert [r["productOrderItemId"] for r in message["productOrderItem"]] == ["1", "2"]
    assert told["productOrderItem"] == order.doc["productOrderItem"]


def test_brokered_offerings_are_recognised_and_never_exported() -> None:
    own = Offering("desk", "prov-a", {"id": "desk"})
    change = federation.import_catalogue(
        "pss-b",
        [
            {"id": "lift", "name": "Lift", "href": "http://b/lift", "relatedParty": []},
            {
                "id": "resold",
                "relatedParty": [{"role": "provider", "partyOrPartyRole": {"id": "prov-p"}}],
                "externalIdentifier": [{"id": "q", "owner": "prov-p"}],
            },
            {"name": "no id"},
        ],
        [own],
    )
    [(lift, new)] = change.saved
    assert new and lift.id == "pss-b.lift" and lift.provider_id == "pss-b"
    assert "href" not in lift.doc
    assert federation.is_brokered(lift) and not federation.exportable(lift)
    assert lift.doc["externalIdentifier"][0]["id"] == "lift"
    assert federation.exportable(own)
    later = federation.import_catalogue("pss-b", [], [lift, own])
    assert later.saved == []
    assert [(o.id, o.doc["lifecycleStatus"]) for o in later.retired] == [("pss-b.lift", "retired")]


def test_the_periodic_sync_goes_on_after_a_failure() -> None:
    """A failing round is logged; the next one runs (events, no clock)."""
    calls: list[int] = []
    second = asyncio.Event()

    async def sync() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("partner down")
        second.set()

    async def run() -> None:
        task = asyncio.create_task(repeat(sync, 0.0))
        await asyncio.wait_for(second.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert calls[:2] == [0, 1]
