"""A change to what a provider acknowledged: told to it, refused or accepted (issue 11 §1).

TOD-03-02 (update of an existing order), PSI-03-02-02-01 (a user and a provider
update an order), PSI-03-02-02-02 (the PSS notifies a provider that an order has
been updated), PSI-03-02-02-04 (by role),
PSI-01-02-03-04 (need-to-know in events): the provider hears of the change as an
``orderValueChangeNotification`` of its own view; it refuses by sending its items
back to the customer (``pending``) with a ``changeRefused`` message and a reason,
and the customer is asked for another value exactly as for missing information;
or it accepts, tacitly, by moving its work on. ``domain/refusals.py`` has the rules.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, order_body

EVENTS = "/psi-api/event/v2/topic/order/event"
MERGE = {"Content-Type": "application/merge-patch+json"}
QUERY = {"Content-Type": "application/json-patch-query+json"}
REFUSED_BA = "missing=billingAccount"


def _events(client: TestClient, who: dict[str, str]) -> list[dict[str, Any]]:
    """The order events this party lists (as its callbacks are sent them), oldest first."""
    response = client.get(EVENTS, headers=who, params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()))


def _refusal(
    item: str, reason: str | None = "account 1889 is closed", *, append: bool = False
) -> list[dict[str, Any]]:
    """Item back to pending, with a changeRefused message (the first, or ``append``ed)."""
    entry: dict[str, Any] = {
        "@type": "ProductOrderErrorMessage",
        "code": "changeRefused",
        "message": REFUSED_BA,
        "productOrderItem": [{"@type": "ProductOrderItemRef", "productOrderItemId": item}],
    }
    if reason is not None:
        entry["reason"] = reason
    return [
        {
            "op": "replace",
            "path": f"/productOrderItem/state?productOrderItem.id={item}",
            "value": "pending",
        },
        {"op": "add", "path": "/productOrderErrorMessage/-", "value": entry}
        if append
        else {"op": "add", "path": "/productOrderErrorMessage", "value": [entry]},
    ]


def _set_item_account(item: str, account: str) -> list[dict[str, Any]]:
    return [
        {
            "op": "add",
            "path": f"/productOrderItem/billingAccount?productOrderItem.id={item}",
            "value": {"id": account, "@type": "BillingAccountRef"},
        }
    ]


def _acknowledged(world: World, client: TestClient, auth: Auth) -> str:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    for provider in ("prov-a", "prov-b"):
        ack = client.patch(
            f"{ORDERS}/{order['id']}",
            json={"state": "acknowledged"},
            headers={**auth(provider, "provider"), **MERGE},
        )
        assert ack.status_code == 200, ack.text
    return str(order["id"])


def test_change_refused_and_resupplied_TOD_03_02_PSI_03_02_02_02_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    dave, prov_a, prov_b = auth("dave"), auth("prov-a", "provider"), auth("prov-b", "provider")
    order_id = _acknowledged(world, client, auth)
    url = f"{ORDERS}/{order_id}"
    seen = {who: len(_events(client, h)) for who, h in (("a", prov_a), ("b", prov_b), ("d", dave))}

    # 1. the customer changes the billing account of prov-a's item
    changed = client.patch(url, json=_set_item_account("1", "1889"), headers={**dave, **QUERY})
    assert changed.status_code == 200, changed.text
    [told] = _events(client, prov_a)[seen["a"] :]
    assert told["eventType"] == "orderValueChangeNotification"
    shown = told["event"]["productOrder"]["productOrderItem"]
    assert [(i["id"], i["billingAccount"]["id"]) for i in shown] == [("1", "1889")]
    assert _events(client, prov_b)[seen["b"] :] == [], "prov-b's view did not change"

    # 2. prov-a refuses: its item goes back to the customer, with the reason
    refused = client.patch(url, json=_refusal("1"), headers={**prov_a, **QUERY})
    assert refused.status_code == 200, refused.text
    order = client.get(url, headers=dave).json()
    assert order["state"] == "pending"
    [message] = [m for m in order["productOrderErrorMessage"] if m["code"] == "changeRefused"]
    assert message["reason"] == "account 1889 is closed"
    assert message["message"] == REFUSED_BA
    customer_events = _events(client, dave)[seen["d"] + 1 :]
    asked = [e for e in customer_events if e["eventType"] == "orderInformationRequiredNotification"]
    assert [(e["resourcePath"], e["fieldPath"]) for e in asked] == [
        (f"/productOrder/{order_id}/productOrderItem/1", REFUSED_BA)
    ]
    assert "orderStateChangeNotification" in [e["eventType"] for e in customer_events]
    prov_b_events = _events(client, prov_b)[seen["b"] :]
    assert "orderInformationRequiredNotification" not in [e["eventType"] for e in prov_b_events]
    assert "productOrderErrorMessage" not in client.get(url, headers=prov_b).json()

    # 3. the same value again supplies nothing; another one resumes the item
    same = client.patch(url, json=_set_item_account("1", "1889"), headers={**dave, **QUERY})
    assert same.status_code == 200
    assert client.get(url, headers=dave).json()["state"] == "pending"
    other = client.patch(url, json=_set_item_account("1", "2001"), headers={**dave, **QUERY})
    assert other.status_code == 200, other.text
    resumed = client.get(url, headers=dave).json()
    assert resumed["state"] == "acknowledged"
    assert [i["state"] for i in resumed["productOrderItem"]] == ["acknowledged", "acknowledged"]
    last = _events(client, prov_a)[-2:]
    assert {e["eventType"] for e in last} == {
        "orderValueChangeNotification",
        "orderStateChangeNotification",
    }

    # 4. prov-a accepts by moving its work on: the change can no longer be refused
    work = client.patch(url, json={"state": "inProgress"}, headers={**prov_a, **MERGE})
    assert work.status_code == 200, work.text
    late = client.patch(url, json=_refusal("1", append=True), headers={**prov_a, **QUERY})
    assert late.status_code == 422
    assert "awaits" in late.json()["message"]


def test_order_level_change_refused_TOD_03_02(world: World, client: TestClient, auth: Auth) -> None:
    """An order-level field goes back as missing on the order; both providers were told."""
    dave, prov_b = auth("dave"), auth("prov-b", "provider")
    order_id = _acknowledged(world, client, auth)
    url = f"{ORDERS}/{order_id}"
    changed = client.patch(url, json={"billingAccount": {"id": "ba-9"}}, headers={**dave, **MERGE})
    assert changed.status_code == 200
    for provider in ("prov-a", "prov-b"):
        last = _events(client, auth(provider, "provider"))[-1]
        assert last["eventType"] == "orderValueChangeNotification"
        assert last["event"]["productOrder"]["billingAccount"] == {"id": "ba-9"}
    seen = len(_events(client, dave))
    refused = client.patch(url, json=_refusal("2", "no such account"), headers={**prov_b, **QUERY})
    assert refused.status_code == 200, refused.text
    [asked] = [
        e
        for e in _events(client, dave)[seen:]
        if e["eventType"] == "orderInformationRequiredNotification"
    ]
    assert (asked["resourcePath"], asked["fieldPath"]) == (f"/productOrder/{order_id}", REFUSED_BA)
    fixed = client.patch(url, json={"billingAccount": {"id": "ba-10"}}, headers={**dave, **MERGE})
    assert fixed.status_code == 200
    assert client.get(url, headers=dave).json()["state"] == "acknowledged"


def test_what_cannot_be_refused_TOD_03_02(world: World, client: TestClient, auth: Auth) -> None:
    """No reason, nothing changed, another provider's item, the item left as it is:
    422 or 403, and the order as it was."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    url = f"{ORDERS}/{_acknowledged(world, client, auth)}"
    before = client.get(url, headers=dave).json()
    nothing_changed = client.patch(url, json=_refusal("1"), headers={**prov_a, **QUERY})
    assert nothing_changed.status_code == 422
    client.patch(url, json=_set_item_account("1", "1889"), headers={**dave, **QUERY})
    before = client.get(url, headers=dave).json()
    no_reason = client.patch(url, json=_refusal("1", None), headers={**prov_a, **QUERY})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["message"]
    not_moved = _refusal("1")[1:]
    assert client.patch(url, json=not_moved, headers={**prov_a, **QUERY}).status_code == 422
    foreign = _refusal("1")[1:]
    foreign[0]["value"][0]["productOrderItem"][0]["productOrderItemId"] = "2"
    assert client.patch(url, json=foreign, headers={**prov_a, **QUERY}).status_code == 403
    assert client.get(url, headers=dave).json() == before


def test_changes_before_acknowledgement_are_not_refusable(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A provider that has not acknowledged yet sees the order as it is when it does."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    order = world.create(dave, order_body("off-a"))
    url = f"{ORDERS}/{order['id']}"
    client.patch(url, json=_set_item_account("1", "1889"), headers={**dave, **QUERY})
    refusal = _refusal("1")
    assert client.patch(url, json=refusal, headers={**prov_a, **QUERY}).status_code == 422


def test_refusal_by_event_applies_the_same_rules_PSI_03_02_02_03(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A provider may answer by posting an event to the PSS instead of a PATCH."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    order_id = _acknowledged(world, client, auth)
    url = f"{ORDERS}/{order_id}"
    client.patch(url, json=_set_item_account("1", "1889"), headers={**dave, **QUERY})
    entry = _refusal("1")[1]["value"][0]
    event: dict[str, Any] = {
        "eventId": "refusal-1",
        "eventType": "orderStateChangeNotification",
        "event": {
            "productOrder": {
                "id": order_id,
                "productOrderItem": [{"id": "1", "state": "pending"}],
                "productOrderErrorMessage": [entry],
            }
        },
    }
    without_reason = {**event, "eventId": "refusal-0"}
    without_reason["event"] = {
        "productOrder": {
            **event["event"]["productOrder"],
            "productOrderErrorMessage": [{k: v for k, v in entry.items() if k != "reason"}],
        }
    }
    refused = client.post(EVENTS, json=without_reason, headers=prov_a)
    assert refused.status_code == 422, refused.text
    posted = client.post(EVENTS, json=event, headers=prov_a)
    assert posted.status_code == 201, posted.text
    order = client.get(url, headers=dave).json()
    assert order["state"] == "pending"
    assert [m["reason"] for m in order["productOrderErrorMessage"]] == ["account 1889 is closed"]
