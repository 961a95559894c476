"""Information required on the order itself (issue 11 §2; seed 001's
``orderInformationRequiredNotification`` with ``fieldPath`` ``missing=notificationContact``).

Raised by a provider (PATCH or received event) or by the PSS's own rules (an offering's
``requiredOrderField`` term), supplied by the customer, cancelled automatically when
not supplied in time; seen, and told, only by the parties it concerns. Over HTTP, on
both databases.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from tests.conftest import Auth
from tests.world import OFFERINGS, ORDERS, World, customer_ref, order_body, provider_ref

EVENTS = "/psi-api/event/v2/topic/order/event"
MERGE = {"Content-Type": "application/merge-patch+json"}
CONTACT = "missing=notificationContact"
INFO = "orderInformationRequiredNotification"


def _url(order: dict[str, Any]) -> str:
    return f"{ORDERS}/{order['id']}"


def _ask(field: str = "notificationContact") -> dict[str, Any]:
    """A provider's error message asking for an order field (no item named)."""
    return {
        "code": "informationRequired",
        "reason": "Information required",
        "message": f"missing={field}",
    }


def _order_requests(doc: dict[str, Any]) -> list[str]:
    return [
        m["message"]
        for m in doc.get("productOrderErrorMessage") or []
        if m.get("code") == "informationRequired" and not m.get("productOrderItem")
    ]


def _told(client: TestClient, headers: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    """The information-required events about the order this party lists."""
    listed = client.get(EVENTS, params={"eventType": INFO}, headers=headers).json()
    return [e for e in listed if e["event"]["productOrder"]["id"] == order_id]


def _info_timers(client: TestClient, order_id: str) -> int:
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.reading() as uow:
        return sum(t.kind == "informationRequired" for t in uow.timers.pending(order_id))


def _items(client: TestClient, auth: Auth, order: dict[str, Any]) -> dict[str, str]:
    doc = client.get(_url(order), headers=auth("dave")).json()
    return {i["id"]: i["state"] for i in doc["productOrderItem"]}


def _publish(client: TestClient, auth: Auth, offering: str, provider: str, *fields: str) -> Any:
    body = {
        "id": offering,
        "name": offering,
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref(provider)],
        "productOfferingTerm": [{"name": "requiredOrderField", "description": f} for f in fields],
    }
    return client.post(OFFERINGS, json=body, headers=auth(provider, "provider"))


@pytest.fixture
def asking(world: World, client: TestClient, auth: Auth) -> World:
    """off-contact (prov-a) requires the order's notificationContact; off-agreement
    (prov-a) an agreement, which a customer cannot otherwise change once submitted."""
    for offering, field in (("off-contact", "notificationContact"), ("off-agreement", "agreement")):
        assert _publish(client, auth, offering, "prov-a", field).status_code == 201
    return world


def _in_progress(world: World, client: TestClient, auth: Auth) -> dict[str, Any]:
    """dave's order for off-a (prov-a) and off-b (prov-b), both providers at work."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    for provider in ("prov-a", "prov-b"):
        moved = client.patch(
            _url(order),
            json={"state": "inProgress"},
            headers={**auth(provider, "provider"), **MERGE},
        )
        assert moved.status_code == 200, moved.text
    return order


# --- raised by the PSS's own rules ---------------------------------------------------------


def test_offering_requiring_an_order_field_asks_the_customer_PSI_03_02_01_01(
    asking: World, client: TestClient, auth: Auth
) -> None:
    """No notificationContact on an order for off-contact: the order waits for it, says so
    on itself, raises seed 001's event for the order and starts the auto-cancel timer;
    supplying it by PATCH ends all three."""
    order = asking.create(auth("dave"), order_body("off-contact", "off-b"))

    assert order["state"] == "pending"
    assert _order_requests(order) == [CONTACT]
    [event] = _told(client, auth("dave"), order["id"])
    assert (event["resourcePath"], event["fieldPath"]) == (f"/productOrder/{order['id']}", CONTACT)
    assert _info_timers(client, order["id"]) == 1

    supplied = client.patch(
        _url(order),
        json={"notificationContact": "ops@example.org"},
        headers={**auth("dave"), **MERGE},
    )
    assert supplied.status_code == 200, supplied.text
    assert _order_requests(supplied.json()) == []
    assert _info_timers(client, order["id"]) == 0
    ack = client.patch(
        _url(order), json={"state": "acknowledged"}, headers={**auth("prov-a", "provider"), **MERGE}
    )
    assert ack.status_code == 200


def test_order_giving_the_field_is_not_asked(asking: World, client: TestClient, auth: Auth) -> None:
    order = asking.create(auth("dave"), order_body("off-contact", notificationContact="a@b.c"))

    assert _order_requests(order) == []
    assert _info_timers(client, order["id"]) == 0


def test_draft_is_asked_when_submitted(asking: World, client: TestClient, auth: Auth) -> None:
    draft = asking.create(auth("dave"), order_body("off-contact", requestedInitialState="draft"))
    assert _order_requests(draft) == []

    submitted = client.patch(
        _url(draft), json={"state": "acknowledged"}, headers={**auth("dave"), **MERGE}
    )

    assert submitted.status_code == 200, submitted.text
    assert _order_requests(submitted.json()) == [CONTACT]


def test_a_field_asked_for_is_writable_while_asked_PSI_03_02_02_01(
    asking: World, client: TestClient, auth: Auth
) -> None:
    """agreement is the order's content, fixed once submitted, unless the order waits for it."""
    agreement = {"agreement": [{"id": "agr-1"}]}
    plain = asking.create(auth("dave"), order_body("off-a"))
    refused = client.patch(_url(plain), json=agreement, headers={**auth("dave"), **MERGE})
    assert refused.status_code == 409, "the owner writes it, but not once submitted"

    order = asking.create(auth("dave"), order_body("off-agreement"))
    assert _order_requests(order) == ["missing=agreement"]
    supplied = client.patch(_url(order), json=agreement, headers={**auth("dave"), **MERGE})
    assert supplied.status_code == 200, supplied.text
    assert _order_requests(supplied.json()) == []
    again = client.patch(
        _url(order), json={"agreement": [{"id": "agr-2"}]}, headers={**auth("dave"), **MERGE}
    )
    assert again.status_code == 409  # supplied: fixed again (the owner's, not now)


@pytest.mark.parametrize("field", ["state", "productOrderItem", "relatedParty", "nonsense"])
def test_offering_cannot_require_what_a_customer_does_not_supply(
    world: World, client: TestClient, auth: Auth, field: str
) -> None:
    response = _publish(client, auth, "off-odd", "prov-a", field)

    assert response.status_code == 422, response.text
    assert "requiredOrderField" in response.json()["message"]


# --- raised by a provider: PATCH and event -------------------------------------------------


def test_provider_asks_for_order_information_by_patch_PSI_03_02_02_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Its open items wait (pending), the customer supplies, they resume where they were."""
    order = _in_progress(world, client, auth)
    asked = client.patch(
        _url(order),
        json={"state": "pending", "productOrderErrorMessage": [_ask()]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )
    assert asked.status_code == 200, asked.text
    assert _order_requests(asked.json()) == [CONTACT]
    assert _items(client, auth, order) == {"1": "pending", "2": "inProgress"}
    assert _info_timers(client, order["id"]) == 1

    supplied = client.patch(
        _url(order),
        json={"notificationContact": "ops@example.org"},
        headers={**auth("dave"), **MERGE},
    )
    assert supplied.status_code == 200, supplied.text
    assert _order_requests(supplied.json()) == []
    assert _items(client, auth, order) == {"1": "inProgress", "2": "inProgress"}
    assert _info_timers(client, order["id"]) == 0


def test_provider_asking_must_put_its_items_pending(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = _in_progress(world, client, auth)
    response = client.patch(
        _url(order),
        json={"productOrderErrorMessage": [_ask()]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )

    assert response.status_code == 422, response.text
    assert "pending" in response.json()["message"]
    assert _order_requests(client.get(_url(order), headers=auth("dave")).json()) == []


@pytest.mark.parametrize("field", ["state", "productOrderItem", "relatedParty", "creationDate"])
def test_provider_cannot_ask_for_what_a_customer_does_not_supply(
    world: World, client: TestClient, auth: Auth, field: str
) -> None:
    order = _in_progress(world, client, auth)
    response = client.patch(
        _url(order),
        json={"state": "pending", "productOrderErrorMessage": [_ask(field)]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )

    assert response.status_code == 422, response.text
    assert _items(client, auth, order) == {"1": "inProgress", "2": "inProgress"}


@pytest.mark.parametrize("resource_path", ["/productOrder/{id}", "/order/{id} "])
def test_provider_asks_for_order_information_by_event_PSI_03_02_02_03(
    world: World, client: TestClient, auth: Auth, resource_path: str
) -> None:
    """Seed 001's simple example, as sent (``/order/42 ``) and as PSI names it."""
    order = _in_progress(world, client, auth)
    event = {
        "eventId": "need-contact",
        "eventType": INFO,
        "resourcePath": resource_path.format(id=order["id"]),
        "fieldPath": CONTACT,
        "event": {"productOrder": {"id": order["id"]}},
    }
    response = client.post(EVENTS, json=event, headers=auth("prov-a", "provider"))

    assert response.status_code == 201, response.text
    doc = client.get(_url(order), headers=auth("dave")).json()
    assert _order_requests(doc) == [CONTACT]
    assert _items(client, auth, order) == {"1": "pending", "2": "inProgress"}
    [told] = _told(client, auth("dave"), order["id"])
    assert told["resourcePath"] == f"/productOrder/{order['id']}"
    client.patch(
        _url(order), json={"notificationContact": "x@y.z"}, headers={**auth("dave"), **MERGE}
    )
    assert _items(client, auth, order) == {"1": "inProgress", "2": "inProgress"}


# --- not supplied in time ------------------------------------------------------------------


def test_order_information_not_supplied_cancels_the_order(
    world: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    order = _in_progress(world, client, auth)
    client.patch(
        _url(order),
        json={"state": "pending", "productOrderErrorMessage": [_ask()]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )
    timers = client.app.state.services.timers  # type: ignore[attr-defined]

    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert timers.fire_due() == 0
    clock.advance(timedelta(seconds=2))
    assert timers.fire_due() == 1

    doc = client.get(_url(order), headers=auth("dave")).json()
    assert doc["state"] == "cancelled"
    assert "P7D" in doc["cancellationReason"]


# --- need-to-know: who sees the request and its event --------------------------------------


def test_order_level_request_is_seen_by_whom_it_concerns_PSI_03_02_03_02_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The customer side and governance see it; of the providers, only the one that asked
    (prov-b, whose items do not wait, neither sees nor is told of it); strangers nothing."""
    order = _in_progress(world, client, auth)
    client.patch(
        _url(order),
        json={"state": "pending", "productOrderErrorMessage": [_ask()]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )
    roles = {
        "customer": (auth("dave"), True),
        "governance": (world.gov, True),
        "asking provider": (auth("prov-a", "provider"), True),
        "other provider": (auth("prov-b", "provider"), False),
    }
    for role, (headers, sees) in roles.items():
        doc = client.get(_url(order), headers=headers).json()
        assert (_order_requests(doc) == [CONTACT]) is sees, role
        assert (len(_told(client, headers, order["id"])) == 1) is sees, role
    stranger = auth("carol")
    assert client.get(_url(order), headers=stranger).status_code == 404
    assert _told(client, stranger, order["id"]) == []


def test_pss_request_is_seen_by_the_providers_it_concerns(
    asking: World, client: TestClient, auth: Auth
) -> None:
    """An order for off-contact (prov-a) and off-b: prov-b's offering asked for nothing."""
    order = asking.create(
        auth("pss-x", "pss"),
        order_body("off-contact", "off-b", relatedParty=[customer_ref("dave")]),
    )
    for party, sees in (("prov-a", True), ("prov-b", False)):
        headers = auth(party, "provider")
        doc = client.get(_url(order), headers=headers).json()
        assert (_order_requests(doc) == [CONTACT]) is sees, party
        assert (len(_told(client, headers, order["id"])) == 1) is sees, party
    for headers in (auth("pss-x", "pss"), auth("dave")):  # creator and customer
        assert _order_requests(client.get(_url(order), headers=headers).json()) == [CONTACT]
        assert len(_told(client, headers, order["id"])) == 1


def test_provider_whose_items_are_done_cannot_ask(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Nothing of it would wait, yet the request could cancel the order: refused."""
    order = _in_progress(world, client, auth)
    done = client.patch(
        _url(order), json={"state": "completed"}, headers={**auth("prov-a", "provider"), **MERGE}
    )
    assert done.status_code == 200, done.text
    response = client.patch(
        _url(order),
        json={"productOrderErrorMessage": [_ask()]},
        headers={**auth("prov-a", "provider"), **MERGE},
    )

    assert response.status_code == 422, response.text
    assert _info_timers(client, order["id"]) == 0
