"""Brokering through the delivery worker, in process, on both databases (issue 13).

The broker A is this app; the partner B's event intake is a loopback receiver.
The relay callback is what ``sync-partners`` registers: owned by B as a
provider, aimed at B's intake. The worker that delivers every callback sends
B the event of the PSS ordering from it (TOD-03-02 "Other PSS" (✓), via events;
PSI-03-02-01-02: the PSS notifies the provider of a created order), with
retries as for any callback (PSI-01-02-03-06); B's refusal rejects A's items;
B's events are applied to A's order as its provider's (PSI-03-02-02-03).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.domain.federation import EVENT_PATH
from tests.conftest import Auth
from tests.delivery import SCHEDULE, Deliver, hub_settings, subscribe
from tests.receiver import Answer, Receiver
from tests.world import OFFERINGS, ORDERS, PARTIES, World, order_body, provider_ref

EVENTS = "/psi-api/event/v2/topic/order/event"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


@pytest.fixture
def paired(world: World, client: TestClient, auth: Auth, receiver: Receiver) -> None:
    """B paired at A (provider with a response time, partner URL), one brokered offering,
    and the relay callback to B's intake."""
    gov = auth("gov", "governance")
    partner = {
        "id": "pss-b",
        "name": "B",
        "partyCharacteristic": [
            {"name": "responseTime", "value": "PT1H"},
            {"name": "partnerApiUrl", "value": receiver.url("")},
        ],
    }
    assert client.post(f"{PARTIES}/organization", json=partner, headers=gov).status_code == 201
    lift = {
        "id": "pss-b.lift",
        "name": "lift",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("pss-b")],
        "externalIdentifier": [{"id": "lift", "owner": "pss-b"}],
    }
    assert client.post(OFFERINGS, json=lift, headers=gov).status_code == 201
    subscribe(client, auth("pss-b", "provider"), receiver.url(EVENT_PATH))


def _order(world: World, auth: Auth) -> dict[str, Any]:
    return world.create(auth("dave"), order_body("off-a", "pss-b.lift"))


def _at_b(receiver: Receiver) -> list[dict[str, Any]]:
    return receiver.delivered(EVENT_PATH)


def _from_b(order_id: str, event_id: str, state: str, **extra: Any) -> dict[str, Any]:
    """B's event about its copy of our order, as B sends it to A (its creator)."""
    copy = {
        "id": "b-copy",
        "state": state,
        "externalId": [
            {"id": order_id, "owner": "pss-a", "externalIdentifierType": "ProductOrder"}
        ],
        "productOrderItem": [{"id": "2", "state": state}],
        **extra,
    }
    return {
        "@type": "Event",
        "id": event_id,
        "eventId": event_id,
        "eventType": "orderStateChangeNotification",
        "event": {"productOrder": copy},
    }


#: P's refusal at B of the customer's billing account ba-9 on B's copy of item 2.
BA9_REFUSED = {
    "@type": "ProductOrderErrorMessage",
    "code": "changeRefused",
    "reason": "ba-9 is closed",
    "message": "missing=billingAccount",
    "productOrderItem": [{"@type": "ProductOrderItemRef", "productOrderItemId": "2"}],
}


def _assert_relay_goes_on(client: TestClient, auth: Auth) -> None:
    """B's verdict was taken as an answer: the relay to A is active with nothing pending."""
    hubs = client.get("/psi-api/event/v2/topic/order/hub", headers=auth("pss-b", "provider"))
    [relay] = hubs.json()
    health = client.get(
        f"/psi-api/event/v2/topic/order/hub/{relay['id']}", headers=auth("pss-b", "provider")
    ).json()
    assert health["state"] == "active" and health["pendingCount"] == 0


def _items(client: TestClient, auth: Auth, order_id: str) -> dict[str, str]:
    doc = client.get(f"{ORDERS}/{order_id}", headers=auth("dave")).json()
    return {i["id"]: i["state"] for i in doc["productOrderItem"]}


@pytest.mark.usefixtures("paired")
def test_the_partners_items_travel_as_a_creation_event_PSI_03_02_01_02(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Only B's item, under our order id, with B's offering id, no state or customer."""
    order = _order(world, auth)
    deliver()
    [created] = _at_b(receiver)
    assert created["eventType"] == "orderCreationNotification"
    assert created["event"]["productOrder"] == {
        "id": order["id"],
        "productOrderItem": [{"id": "2", "action": "add", "productOffering": {"id": "lift"}}],
    }


@pytest.mark.usefixtures("paired")
def test_the_partners_progress_applies_as_its_providers_and_is_not_echoed_PSI_03_02_02_03(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """B's acknowledgement and completion of its copy move our item 2; B is not sent its
    own progress back; a cancellation by the customer does travel."""
    order = _order(world, auth)
    deliver()
    pss_b = auth("pss-b", "provider")
    for n, state in enumerate(("acknowledged", "inProgress")):
        answer = client.post(EVENTS, json=_from_b(order["id"], f"b-{n}", state), headers=pss_b)
        assert answer.status_code == 201, answer.text
    assert _items(client, auth, order["id"])["2"] == "inProgress"
    deliver()
    assert [e["eventType"] for e in _at_b(receiver)] == ["orderCreationNotification"]
    cancel = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"state": "cancelled", "cancellationReason": "moved"},
        headers={**auth("dave"), **MERGE},
    )
    assert cancel.status_code == 200, cancel.text
    deliver()
    relayed = _at_b(receiver)[-1]
    assert relayed["eventType"] == "orderStateChangeNotification"
    assert relayed["event"]["productOrder"] == {
        "id": order["id"],
        "state": "cancelled",
        "cancellationReason": "moved",
    }
    # B accepts: its copy is cancelled; ours is accepted (pendingCancellation) and, as
    # prov-a's unacknowledged item needed no assessment, the order settles as cancelled
    accepted = client.post(EVENTS, json=_from_b(order["id"], "b-9", "cancelled"), headers=pss_b)
    assert accepted.status_code == 201, accepted.text
    assert _items(client, auth, order["id"]) == {"1": "cancelled", "2": "cancelled"}
    deliver()  # the settled cancellation is B's own doing: not echoed back to it
    assert [e["eventType"] for e in _at_b(receiver)][-1] == "orderStateChangeNotification"
    assert len(_at_b(receiver)) == 2


@pytest.mark.usefixtures("paired")
def test_a_partner_reaches_only_the_orders_forwarded_to_it_PSI_03_02_03_02(
    world: World, client: TestClient, auth: Auth
) -> None:
    """An event naming an order not forwarded to the partner is 404; a provider that is
    not a partner sending a copy's event is read as a plain provider event (404 too, its
    ``id`` is not ours); the partner cannot write what a provider may not."""
    mine = world.create(auth("dave"), order_body("off-a"))
    pss_b = auth("pss-b", "provider")
    answer = client.post(EVENTS, json=_from_b(mine["id"], "x-1", "acknowledged"), headers=pss_b)
    assert answer.status_code == 404, answer.text
    order = _order(world, auth)
    plain = client.post(
        EVENTS, json=_from_b(order["id"], "x-2", "acknowledged"), headers=auth("prov-b", "provider")
    )
    assert plain.status_code == 404, plain.text
    acknowledged = _from_b(order["id"], "x-3", "acknowledged")
    assert client.post(EVENTS, json=acknowledged, headers=pss_b).status_code == 201
    bad = _from_b(order["id"], "x-4", "cancelled")  # not a provider's move from there
    assert client.post(EVENTS, json=bad, headers=pss_b).status_code == 409
    assert _items(client, auth, order["id"]) == {"1": "pending", "2": "acknowledged"}


@pytest.mark.usefixtures("paired")
def test_a_partners_refusal_rejects_our_items_with_its_reason(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """B's validation answering 422: A's items for B are rejected (so the order), with
    B's message; the relay callback stays active for the next orders."""
    error = b'{"@type":"Error","code":"X","reason":"r","message":"lift: no such offering"}'
    receiver.script(EVENT_PATH, Answer(422, body=error))
    order = _order(world, auth)
    deliver()
    doc = client.get(f"{ORDERS}/{order['id']}", headers=auth("dave")).json()
    assert doc["state"] == "rejected"
    [message] = doc["productOrderErrorMessage"]
    assert message["code"] == "partnerRefused"
    assert message["message"] == "HTTP 422: lift: no such offering"
    _assert_relay_goes_on(client, auth)


@pytest.mark.usefixtures("paired")
def test_an_unreachable_partner_is_retried_and_loses_nothing_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """B failing (503, reset): the creation waits and is retried on the schedule like
    any callback's event; the order is not rejected; once B answers it arrives."""
    receiver.script(EVENT_PATH, Answer(503), Answer.connection_reset())
    order = _order(world, auth)
    deliver()
    assert _items(client, auth, order["id"]) == {"1": "pending", "2": "pending"}
    clock.advance(timedelta(seconds=SCHEDULE[0]))
    deliver()
    clock.advance(timedelta(seconds=SCHEDULE[1]))
    deliver()
    [created] = _at_b(receiver)
    assert created["event"]["productOrder"]["id"] == order["id"]
    assert _items(client, auth, order["id"]) == {"1": "pending", "2": "pending"}


@pytest.mark.usefixtures("paired")
def test_nobody_else_makes_us_call_the_partners_intake_PSI_01_02_03_09(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """A callback another party aims at the partner's intake would be sent with our
    credentials for that host: it is sent nothing; only the partner's relay is."""
    subscribe(client, auth("dave"), receiver.url(EVENT_PATH))
    subscribe(client, auth("prov-a", "provider"), receiver.url(EVENT_PATH), "state=pending")
    _order(world, auth)
    deliver()
    [only] = receiver.on(EVENT_PATH)
    assert only.json["event"]["productOrder"]["productOrderItem"][0]["productOffering"] == {
        "id": "lift"
    }


def _acknowledged_at_b(
    world: World, client: TestClient, auth: Auth, deliver: Deliver
) -> dict[str, Any]:
    """An order forwarded to B, whose item B (P there) acknowledged."""
    order = _order(world, auth)
    deliver()
    acked = _from_b(order["id"], "b-ack", "acknowledged")
    assert client.post(EVENTS, json=acked, headers=auth("pss-b", "provider")).status_code == 201
    return order


def _customer(client: TestClient, auth: Auth, order_id: str) -> dict[str, Any]:
    return client.get(f"{ORDERS}/{order_id}", headers=auth("dave")).json()  # type: ignore[no-any-return]


def _asked_of_customer(client: TestClient, auth: Auth, order_id: str) -> list[tuple[str, str]]:
    listed = client.get(
        EVENTS,
        params={"eventType": "orderInformationRequiredNotification", "limit": 100},
        headers=auth("dave"),
    ).json()
    return [(e["resourcePath"], e["fieldPath"]) for e in listed if e["correlationId"] == order_id]


@pytest.mark.usefixtures("paired")
def test_the_customers_billing_change_travels_and_the_partners_refusal_comes_back_TOD_03_02(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """C changes the billing account and adds a note at A: B gets them as A's
    orderValueChangeNotification (notes without A's author, which B sets). P refuses at
    B: B's copy tells it (items pending, changeRefused); at A the refusal is B's, as any
    provider's, so C is asked for another account; B's information request that follows
    is the same refusal and changes nothing; C's next account travels again."""
    order = _acknowledged_at_b(world, client, auth, deliver)
    url = f"{ORDERS}/{order['id']}"
    change = {"billingAccount": {"id": "ba-9"}, "note": [{"text": "gate code 12"}]}
    assert client.patch(url, json=change, headers={**auth("dave"), **MERGE}).status_code == 200
    deliver()
    relayed = _at_b(receiver)[-1]
    assert relayed["eventType"] == "orderValueChangeNotification"
    assert relayed["event"]["productOrder"] == {"id": order["id"], **change}

    told = _from_b(order["id"], "b-refused", "pending", productOrderErrorMessage=[BA9_REFUSED])
    pss_b = auth("pss-b", "provider")
    assert client.post(EVENTS, json=told, headers=pss_b).status_code == 201, told
    doc = _customer(client, auth, order["id"])
    assert {i["id"]: i["state"] for i in doc["productOrderItem"]}["2"] == "pending"
    assert [m["reason"] for m in doc["productOrderErrorMessage"]] == ["ba-9 is closed"]
    asked = [(f"/productOrder/{order['id']}", "missing=billingAccount")]
    assert _asked_of_customer(client, auth, order["id"]) == asked
    echo = {
        **told,
        "eventId": "b-asks",
        "eventType": "orderInformationRequiredNotification",
        "resourcePath": "/productOrder/b-copy",
        "fieldPath": "missing=billingAccount",
    }
    answer = client.post(EVENTS, json=echo, headers=pss_b)
    assert answer.status_code == 201, answer.text
    assert (
        _customer(client, auth, order["id"])["productOrderErrorMessage"]
        == (doc["productOrderErrorMessage"])
    )
    assert _asked_of_customer(client, auth, order["id"]) == asked

    supplied = {"billingAccount": {"id": "ba-10"}}
    assert client.patch(url, json=supplied, headers={**auth("dave"), **MERGE}).status_code == 200
    deliver()
    assert _at_b(receiver)[-1]["event"]["productOrder"] == {"id": order["id"], **supplied}


@pytest.mark.usefixtures("paired")
def test_a_refusal_by_the_partner_of_a_change_we_did_not_await_asks_the_customer(
    world: World, client: TestClient, auth: Auth, deliver: Deliver
) -> None:
    """P acknowledged at B while C's change was on its way, and refused it there: at A,
    where B had not acknowledged yet, there is no change of B's to refuse; the refusal
    is the information request it amounts to (accepted, C asked), not a 422 that would
    halt B's callback to A."""
    order = _order(world, auth)
    deliver()
    url = f"{ORDERS}/{order['id']}"
    change = {"billingAccount": {"id": "ba-9"}}
    assert client.patch(url, json=change, headers={**auth("dave"), **MERGE}).status_code == 200
    told = _from_b(order["id"], "b-refused", "pending", productOrderErrorMessage=[BA9_REFUSED])
    answer = client.post(EVENTS, json=told, headers=auth("pss-b", "provider"))
    assert answer.status_code == 201, answer.text
    [message] = _customer(client, auth, order["id"])["productOrderErrorMessage"]
    assert (message["code"], message["reason"]) == ("informationRequired", "ba-9 is closed")
    assert _asked_of_customer(client, auth, order["id"]) == [
        (f"/productOrder/{order['id']}/productOrderItem/2", "missing=billingAccount")
    ]
    again = client.post(
        EVENTS, json={**told, "eventId": "b-again"}, headers=auth("pss-b", "provider")
    )
    assert again.status_code == 201, again.text
    assert len(_customer(client, auth, order["id"])["productOrderErrorMessage"]) == 1


@pytest.mark.usefixtures("paired")
def test_the_partner_refusing_a_later_change_refuses_it_at_A_as_a_provider_would(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """B failing (503) on the relayed change: retried, nothing refused. B's validation
    then answering 422: the change is B's refusal at A (item pending, changeRefused with
    B's reason; C asked for another value) and the relay goes on. A refused change B
    was not awaiting an answer to (its item not yet acknowledged) is told on B's items."""
    order = _acknowledged_at_b(world, client, auth, deliver)
    error = b'{"@type":"Error","code":"X","reason":"r","message":"priority: 1 is too urgent"}'
    receiver.script(EVENT_PATH, Answer(503), Answer(422, body=error))
    url = f"{ORDERS}/{order['id']}"
    response = client.patch(url, json={"priority": "1"}, headers={**auth("dave"), **MERGE})
    assert response.status_code == 200, response.text
    deliver()
    assert "productOrderErrorMessage" not in _customer(client, auth, order["id"])
    clock.advance(timedelta(seconds=SCHEDULE[0]))
    deliver()
    doc = _customer(client, auth, order["id"])
    assert {i["id"]: i["state"] for i in doc["productOrderItem"]}["2"] == "pending"
    [message] = doc["productOrderErrorMessage"]
    assert message["code"] == "changeRefused"
    assert message["message"] == "missing=priority"
    assert message["reason"] == (
        "partner PSS 'pss-b' refused the change: HTTP 422: priority: 1 is too urgent"
    )
    assert _asked_of_customer(client, auth, order["id"]) == [
        (f"/productOrder/{order['id']}", "missing=priority")
    ]

    fresh = _order(world, auth)
    deliver()
    receiver.script(EVENT_PATH, Answer(422, body=error))
    fresh_url = f"{ORDERS}/{fresh['id']}"
    response = client.patch(fresh_url, json={"priority": "1"}, headers={**auth("dave"), **MERGE})
    assert response.status_code == 200, response.text
    deliver()
    doc = _customer(client, auth, fresh["id"])
    assert _items(client, auth, fresh["id"]) == {"1": "pending", "2": "pending"}
    [message] = doc["productOrderErrorMessage"]
    assert message["code"] == "partnerRefused"
    assert message["message"] == "HTTP 422: priority: 1 is too urgent"
    _assert_relay_goes_on(client, auth)


@pytest.mark.usefixtures("paired")
def test_an_orders_removal_travels_as_a_cancellation_and_the_partners_answers_are_accepted(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Governance removes the order at A while B's item is open: B is asked to cancel its
    copy; B's later events about it are accepted (200, nothing to apply) instead of
    halting B's callback; an event naming an order never forwarded to B is still 404."""
    order = _acknowledged_at_b(world, client, auth, deliver)
    removed = client.delete(f"{ORDERS}/{order['id']}", headers=auth("gov", "governance"))
    assert removed.status_code == 204, removed.text
    deliver()
    relayed = _at_b(receiver)[-1]
    assert relayed["eventType"] == "orderStateChangeNotification"
    assert relayed["event"]["productOrder"] == {
        "id": order["id"],
        "state": "cancelled",
        "cancellationReason": "the order was removed at the PSS that forwarded it",
    }
    pss_b = auth("pss-b", "provider")
    answer = client.post(EVENTS, json=_from_b(order["id"], "b-gone", "cancelled"), headers=pss_b)
    assert answer.status_code == 200, answer.text
    never = client.post(EVENTS, json=_from_b("no-such-order", "b-x", "cancelled"), headers=pss_b)
    assert never.status_code == 404, never.text


@pytest.mark.usefixtures("paired")
def test_the_partner_removing_its_copy_rejects_our_items_for_it(
    world: World, client: TestClient, auth: Auth, deliver: Deliver
) -> None:
    """B's governance removed B's copy: B will not report on it again, so A's items for
    B are rejected with that reason (once; a resend changes nothing) instead of A
    answering 422 and halting B's callback. From anyone but a partner a removal is
    still not applied to orders (422)."""
    order = _acknowledged_at_b(world, client, auth, deliver)
    removal = {**_from_b(order["id"], "b-removed", "acknowledged")}
    removal["eventType"] = "orderRemoveNotification"
    pss_b = auth("pss-b", "provider")
    answer = client.post(EVENTS, json=removal, headers=pss_b)
    assert answer.status_code == 201, answer.text
    assert _items(client, auth, order["id"])["2"] == "rejected"
    [message] = _customer(client, auth, order["id"])["productOrderErrorMessage"]
    assert (message["code"], message["message"]) == (
        "partnerRefused",
        "the partner PSS removed its copy of the order",
    )
    assert client.post(EVENTS, json=removal, headers=pss_b).status_code == 200
    assert len(_customer(client, auth, order["id"])["productOrderErrorMessage"]) == 1
    plain = {**removal, "eventId": "p-removed"}
    refused = client.post(EVENTS, json=plain, headers=auth("prov-b", "provider"))
    assert refused.status_code == 422, refused.text
