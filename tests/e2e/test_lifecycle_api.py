"""The order lifecycle over HTTP (issue: states, who may change what, cancellation,
replacement, missing information). TOD-03-02-02: final orders refuse every update."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from tests.conftest import Auth
from tests.world import OFFERINGS, ORDERS, World, customer_ref, order_body

MERGE = {"Content-Type": "application/merge-patch+json"}


def _url(order: dict[str, Any]) -> str:
    return f"{ORDERS}/{order['id']}"


def _set_items(
    client: TestClient, auth: Auth, order: dict[str, Any], provider: str, state: str, **extra: Any
) -> Any:
    """A provider sets the state of all its items by setting the order state in its view."""
    return client.patch(
        _url(order),
        json={"state": state, **extra},
        headers={**auth(provider, "provider"), **MERGE},
    )


def _state(client: TestClient, auth: Auth, order: dict[str, Any]) -> tuple[str, list[str]]:
    doc = client.get(_url(order), headers=auth("dave")).json()
    return doc["state"], [i.get("state", "-") for i in doc["productOrderItem"]]


def test_order_state_derived_from_provider_item_moves_PSI_03_02_02_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Pending until every provider acknowledged; in progress; completed with a date."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    assert _set_items(client, auth, order, "prov-a", "acknowledged").status_code == 200
    assert _state(client, auth, order) == ("pending", ["acknowledged", "pending"])
    _set_items(client, auth, order, "prov-b", "acknowledged")
    assert _state(client, auth, order) == ("acknowledged", ["acknowledged", "acknowledged"])
    _set_items(client, auth, order, "prov-a", "inProgress")
    assert _state(client, auth, order) == ("inProgress", ["inProgress", "acknowledged"])
    _set_items(client, auth, order, "prov-a", "completed")
    assert _state(client, auth, order)[0] == "inProgress"
    done = _set_items(client, auth, order, "prov-b", "completed")
    assert done.json()["state"] == "completed"
    assert "completionDate" in client.get(_url(order), headers=auth("dave")).json()


def test_item_moves_by_item_patch(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    view = client.get(_url(order), headers=auth("prov-b", "provider")).json()
    view["productOrderItem"][0]["state"] = "acknowledged"
    response = client.patch(
        _url(order),
        json={"productOrderItem": view["productOrderItem"]},
        headers={**auth("prov-b", "provider"), **MERGE},
    )
    assert response.status_code == 200, response.text
    assert _state(client, auth, order) == ("pending", ["pending", "acknowledged"])


def test_disallowed_transition_is_409_naming_states(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    _set_items(client, auth, order, "prov-a", "inProgress")
    response = _set_items(client, auth, order, "prov-a", "acknowledged")
    assert response.status_code == 409
    message = response.json()["message"]
    assert "inProgress" in message and "acknowledged" in message and "allowed:" in message
    customer = client.patch(_url(order), json={"state": "completed"}, headers=auth("dave"))
    assert customer.status_code == 409


def test_final_orders_refuse_every_update_TOD_03_02_02(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    _set_items(client, auth, order, "prov-a", "completed")
    for headers, body in (
        (auth("dave"), {"description": "late"}),
        (auth("prov-a", "provider"), {"expectedCompletionDate": "2027-01-01T00:00:00Z"}),
        (auth("prov-a", "provider"), {"state": "failed"}),
    ):
        response = client.patch(_url(order), json=body, headers=headers)
        assert response.status_code == 409
        assert "final" in response.json()["message"]


def test_rejection_rejects_the_whole_order(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    _set_items(client, auth, order, "prov-a", "acknowledged")
    _set_items(client, auth, order, "prov-b", "rejected")
    assert _state(client, auth, order) == ("rejected", ["cancelled", "rejected"])


def test_no_rejection_once_work_started(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    _set_items(client, auth, order, "prov-a", "inProgress")
    response = _set_items(client, auth, order, "prov-b", "rejected")
    assert response.status_code == 409
    assert "failed" in response.json()["message"]


def test_draft_edit_submit_and_visibility(world: World, client: TestClient, auth: Auth) -> None:
    """Drafts are the customer's to edit and invisible to providers until submitted."""
    draft = world.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    provider = auth("prov-b", "provider")
    edited = client.patch(
        _url(draft), json=order_body("off-b", description="changed my mind"), headers=auth("dave")
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["state"] == "draft"
    assert client.get(_url(draft), headers=provider).status_code == 404
    submitted = client.patch(_url(draft), json={"state": "acknowledged"}, headers=auth("dave"))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "pending"
    assert [i["state"] for i in submitted.json()["productOrderItem"]] == ["pending"]
    assert client.get(_url(draft), headers=provider).status_code == 200


def test_draft_is_validated_in_full_on_submit(world: World, client: TestClient, auth: Auth) -> None:
    draft = world.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    client.patch(_url(draft), json=order_body("no-such-offering"), headers=auth("dave"))
    submitted = client.patch(_url(draft), json={"state": "acknowledged"}, headers=auth("dave"))
    assert submitted.status_code == 422
    assert "no-such-offering" in submitted.json()["message"]
    assert _state(client, auth, draft)[0] == "draft"


def test_cancel_before_acknowledgement_is_immediate(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    response = client.patch(
        _url(order),
        json={"state": "cancelled", "cancellationReason": "no longer needed"},
        headers=auth("dave"),
    )
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["state"] == "cancelled"
    assert doc["cancellationReason"] == "no longer needed"
    assert doc["cancellationDate"] == "2026-11-24T12:00:00.000Z"
    assert {i["state"] for i in doc["productOrderItem"]} == {"cancelled"}


def test_cancel_after_acknowledgement_is_assessed_by_providers(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    _set_items(client, auth, order, "prov-a", "acknowledged")
    _set_items(client, auth, order, "prov-b", "inProgress")
    asked = client.patch(_url(order), json={"state": "cancelled"}, headers=auth("dave"))
    assert asked.json()["state"] == "assessingCancellation"
    _set_items(client, auth, order, "prov-a", "pendingCancellation")
    assert _state(client, auth, order)[0] == "assessingCancellation"
    _set_items(client, auth, order, "prov-b", "pendingCancellation")
    state, items = _state(client, auth, order)
    assert (state, set(items)) == ("cancelled", {"cancelled"})


def test_refused_cancellation_returns_to_previous_states(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    _set_items(client, auth, order, "prov-a", "acknowledged")
    _set_items(client, auth, order, "prov-b", "inProgress")
    client.patch(_url(order), json={"state": "cancelled"}, headers=auth("dave"))
    _set_items(client, auth, order, "prov-a", "pendingCancellation")
    refusal = {
        "productOrderErrorMessage": [
            {
                "code": "cancellationRefused",
                "message": "already installed",
                "productOrderItem": [{"productOrderItemId": "2"}],
            }
        ]
    }
    refused = _set_items(client, auth, order, "prov-b", "inProgress", **refusal)
    assert refused.status_code == 200, refused.text
    assert _state(client, auth, order) == ("inProgress", ["acknowledged", "inProgress"])
    messages = client.get(_url(order), headers=auth("dave")).json()["productOrderErrorMessage"]
    assert messages[0]["message"] == "already installed"


def _replacement(old: dict[str, Any], *offerings: str) -> dict[str, Any]:
    return order_body(
        *offerings, orderRelationship=[{"relationshipType": "replaces", "id": old["id"]}]
    )


def test_replacement_accepted_cancels_the_old_order(
    world: World, client: TestClient, auth: Auth
) -> None:
    old = world.create(auth("dave"), order_body("off-a"))
    _set_items(client, auth, old, "prov-a", "inProgress")
    new = world.create(auth("dave"), _replacement(old, "off-b"))
    assert _state(client, auth, old)[0] == "inProgress"
    _set_items(client, auth, new, "prov-b", "acknowledged")
    doc = client.get(_url(old), headers=auth("dave")).json()
    assert doc["state"] == "cancelled"
    assert new["id"] in doc["cancellationReason"]
    assert {"@type": "OrderRelationship", "relationshipType": "replacedBy", "id": new["id"]} in (
        doc["orderRelationship"]
    )


def test_replacement_rejected_leaves_old_order_alone(
    world: World, client: TestClient, auth: Auth
) -> None:
    old = world.create(auth("dave"), order_body("off-a"))
    new = world.create(auth("dave"), _replacement(old, "off-b"))
    _set_items(client, auth, new, "prov-b", "rejected")
    assert _state(client, auth, old)[0] == "pending"
    again = client.post(ORDERS, json=_replacement(old, "off-a"), headers=auth("dave"))
    assert again.status_code == 201


def test_replacement_rules(world: World, client: TestClient, auth: Auth) -> None:
    old = world.create(auth("dave"), order_body("off-a"))
    world.create(auth("dave"), _replacement(old, "off-b"))
    twice = client.post(ORDERS, json=_replacement(old, "off-b"), headers=auth("dave"))
    assert twice.status_code == 409
    other_customer = client.post(ORDERS, json=_replacement(old, "off-b"), headers=auth("erin"))
    assert other_customer.status_code == 422
    done = world.create(auth("dave"), order_body("off-a"))
    _set_items(client, auth, done, "prov-a", "completed")
    final = client.post(ORDERS, json=_replacement(done, "off-b"), headers=auth("dave"))
    assert final.status_code == 422


@pytest.fixture
def imei_offering(world: World) -> str:
    return world.publish_imei_offering()


def _events(client: TestClient, order_id: str) -> list[tuple[str, dict[str, Any]]]:
    from pss_ordering.service.unit_of_work import Database

    database = Database(client.app.state.services.orders._db.engine)  # type: ignore[attr-defined]
    with database.reading() as uow:
        return uow.notifications.recorded(order_id)


IMEI_PATH = "missing=product.productCharacteristic.value&name=IMEI"
WITH_IMEI = {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]}


def test_missing_information_end_to_end(
    world: World, client: TestClient, auth: Auth, imei_offering: str
) -> None:
    """Create without the required IMEI -> pending with the exact paths -> supply -> resumes."""
    order = world.create(auth("dave"), order_body(imei_offering))
    assert order["state"] == "pending"
    [message] = order["productOrderErrorMessage"]
    assert message["message"] == IMEI_PATH
    assert message["productOrderItem"] == [
        {"@type": "ProductOrderItemRef", "productOrderItemId": "1"}
    ]
    required = [
        d for n, d in _events(client, order["id"]) if n == "orderInformationRequiredNotification"
    ]
    assert required == [
        {
            "resourcePath": f"/productOrder/{order['id']}/productOrderItem/1",
            "fieldPath": IMEI_PATH,
        }
    ]
    item = {**order["productOrderItem"][0], "product": WITH_IMEI}
    supplied = client.patch(_url(order), json={"productOrderItem": [item]}, headers=auth("dave"))
    assert supplied.status_code == 200, supplied.text
    assert "productOrderErrorMessage" not in supplied.json()
    assert supplied.json()["state"] == "pending"
    _set_items(client, auth, order, "prov-a", "acknowledged")
    assert _state(client, auth, order)[0] == "acknowledged"


def test_missing_information_auto_cancel(
    world: World, client: TestClient, auth: Auth, imei_offering: str, clock: ManualClock
) -> None:
    order = world.create(auth("dave"), order_body(imei_offering))
    timers = client.app.state.services.timers  # type: ignore[attr-defined]
    clock.advance(timedelta(days=6))
    assert timers.fire_due() == 0
    clock.advance(timedelta(days=1, seconds=1))
    assert timers.fire_due() == 1
    doc = client.get(_url(order), headers=auth("dave")).json()
    assert doc["state"] == "cancelled"
    assert "P7D" in doc["cancellationReason"]
    assert timers.fire_due() == 0


def test_supplied_information_clears_the_timer(
    world: World, client: TestClient, auth: Auth, imei_offering: str, clock: ManualClock
) -> None:
    order = world.create(auth("dave"), order_body(imei_offering))
    item = {**order["productOrderItem"][0], "product": WITH_IMEI}
    client.patch(_url(order), json={"productOrderItem": [item]}, headers=auth("dave"))
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.reading() as uow:
        kinds = {timer.kind for timer in uow.timers.pending(order["id"])}
    assert kinds == {"responseDeadline"}, "the information timer is gone; the provider's starts"
    clock.advance(timedelta(days=30))
    services.timers.fire_due()
    assert _state(client, auth, order)[0] == "pending"


def test_offering_overrides_the_time_frame(
    world: World, client: TestClient, auth: Auth, imei_offering: str, clock: ManualClock
) -> None:
    client.patch(
        f"{OFFERINGS}/{imei_offering}",
        json={
            "productOfferingTerm": [
                {"name": "informationRequiredTimeout", "duration": {"amount": 2, "units": "hours"}}
            ]
        },
        headers=auth("prov-a", "provider"),
    )
    order = world.create(auth("dave"), order_body(imei_offering))
    clock.advance(timedelta(hours=2, seconds=1))
    assert client.app.state.services.timers.fire_due() == 1  # type: ignore[attr-defined]
    assert "PT2H" in client.get(_url(order), headers=auth("dave")).json()["cancellationReason"]


def test_timer_survives_a_restart(
    world: World,
    client: TestClient,
    auth: Auth,
    imei_offering: str,
    clock: ManualClock,
    engine: Any,
    settings: Any,
) -> None:
    """The deadline is a row: a freshly started service fires it."""
    from pss_ordering.bootstrap import build_services

    order = world.create(auth("dave"), order_body(imei_offering))
    clock.advance(timedelta(days=8))
    restarted = build_services(settings, engine, clock)
    assert restarted.timers.fire_due() == 1
    assert _state(client, auth, order)[0] == "cancelled"


def test_provider_reports_missing_information(world: World, client: TestClient, auth: Auth) -> None:
    """A provider asks for data: item pending + event; once supplied the item resumes."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    _set_items(client, auth, order, "prov-a", "inProgress")
    _set_items(client, auth, order, "prov-b", "acknowledged")
    report = {
        "productOrderErrorMessage": [
            {
                "code": "informationRequired",
                "message": "missing=product.productCharacteristic.value&name=Site",
                "productOrderItem": [{"productOrderItemId": "1"}],
            }
        ]
    }
    asked = _set_items(client, auth, order, "prov-a", "pending", **report)
    assert asked.status_code == 200, asked.text
    assert _state(client, auth, order) == ("pending", ["pending", "acknowledged"])
    assert (
        "orderInformationRequiredNotification",
        {
            "resourcePath": f"/productOrder/{order['id']}/productOrderItem/1",
            "fieldPath": "missing=product.productCharacteristic.value&name=Site",
        },
    ) in _events(client, order["id"])
    current = client.get(_url(order), headers=auth("dave")).json()
    items = current["productOrderItem"]
    items[0] = {
        **items[0],
        "product": {"productCharacteristic": [{"name": "Site", "value": "Pier 4"}]},
    }
    supplied = client.patch(_url(order), json={"productOrderItem": items}, headers=auth("dave"))
    assert supplied.status_code == 200, supplied.text
    assert _state(client, auth, order) == ("inProgress", ["inProgress", "acknowledged"])


def test_changing_characteristics_needs_a_replacement_order(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    item = {**order["productOrderItem"][0], "product": WITH_IMEI}
    response = client.patch(_url(order), json={"productOrderItem": [item]}, headers=auth("dave"))
    assert response.status_code == 422
    assert "replaces" in response.json()["message"]


def test_pss_may_cancel_orders_it_created(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(
        auth("pss-x", "pss"), order_body("off-a", relatedParty=[customer_ref("dave")])
    )
    response = client.patch(_url(order), json={"state": "cancelled"}, headers=auth("pss-x", "pss"))
    assert response.json()["state"] == "cancelled"


def test_replaced_order_waiting_for_information_drops_its_timer(
    world: World, client: TestClient, auth: Auth, imei_offering: str
) -> None:
    """Cancelling a replaced order also clears its information-required deadline."""
    from pss_ordering.service.unit_of_work import Database

    old = world.create(auth("dave"), order_body(imei_offering))
    new = world.create(auth("dave"), _replacement(old, "off-b"))
    _set_items(client, auth, new, "prov-b", "acknowledged")
    assert _state(client, auth, old)[0] == "cancelled"
    database = Database(client.app.state.services.orders._db.engine)  # type: ignore[attr-defined]
    with database.reading() as uow:
        assert uow.timers.pending(old["id"]) == []
