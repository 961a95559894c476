"""Another PSS creates and updates orders through events (issue 13, part 1).

TOD-03-02's task matrix marks Create and Update Product Order for the *Other PSS*
with ``(✓)``: "operations carried out via events (see TOD-01-02)". So a ``pss``
party posts an ``orderCreationNotification`` (TMF: ``ProductOrderCreateEvent``)
to ``POST /topic/order/event`` (PSI-01-02-03-01, receiving events; PSI-01-02-03-02,
entity data within events) and the order is created exactly as by its POST
(PSI-03-02-01-01): same schema, rules, grants and errors. It applies once per
(sender, eventId), also when resends race. Updates and cancellation arrive as
value/state change events under the rules of its PATCH (PSI-03-02-02-01).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from pss_ordering.store.schema import orders, received_events
from tests.conftest import Auth
from tests.integration.test_duplicate_races import at_once, statuses
from tests.world import ORDERS, World, customer_ref, order_body

EVENTS = "/psi-api/event/v2/topic/order/event"


def _answer(response: httpx.Response) -> Any:
    """The body, without the request id every answer carries (X-Request-ID)."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("requestId", None)
    return body


def _carried(sender_order_id: str = "x-1", **extra: Any) -> dict[str, Any]:
    """The order as pss-x has it: its own id, for dave, one item per provider."""
    return {
        "id": sender_order_id,
        **order_body("off-a", "off-b", relatedParty=[customer_ref("dave")]),
        **extra,
    }


def _creation(
    order: dict[str, Any], event_id: str = "c-1", event_type: str = "orderCreationNotification"
) -> dict[str, Any]:
    return {"eventId": event_id, "eventType": event_type, "event": {"productOrder": order}}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize("event_type", ["orderCreationNotification", "ProductOrderCreateEvent"])
def test_a_pss_creates_an_order_by_event_PSI_01_02_03_01_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth, event_type: str
) -> None:
    """Created as by POST; the answer carries the order under this PSS's id, the sender's
    id kept first among the externalIds, owned by the sender (PSI-01-02-03-02)."""
    pss = auth("pss-x", "pss")
    response = client.post(EVENTS, json=_creation(_carried(), event_type=event_type), headers=pss)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["eventId"] == answer["id"] == "c-1"
    created = answer["event"]["productOrder"]
    assert created["id"] != "x-1"
    assert created["href"].endswith(f"{ORDERS}/{created['id']}")
    assert created["externalId"][0] == {
        "@type": "ExternalIdentifier",
        "id": "x-1",
        "owner": "pss-x",
        "externalIdentifierType": "ProductOrder",
    }
    for who in (pss, auth("dave")):
        doc = client.get(f"{ORDERS}/{created['id']}", headers=who).json()
        assert doc["state"] == "pending"
        assert doc["externalId"][0]["id"] == "x-1"
    # the providers are told as of any order, each of its own item
    for provider, item in (("prov-a", "1"), ("prov-b", "2")):
        seen = client.get(f"{ORDERS}/{created['id']}", headers=auth(provider, "provider"))
        assert [i["id"] for i in seen.json()["productOrderItem"]] == [item]
    # the other PSS hears of it in its own (the creator's, full) view
    told = client.get(EVENTS, headers=pss).json()
    assert [(e["eventType"], e["correlationId"]) for e in told] == [
        ("orderCreationNotification", created["id"])
    ]
    # and finds it by its own id
    mine = client.get(f"{ORDERS}?externalId.id=x-1", headers=pss).json()
    assert [o["id"] for o in mine] == [created["id"]]


def test_a_sender_owns_one_external_id_and_keeps_the_others(
    world: World, client: TestClient, auth: Auth
) -> None:
    """An externalId the sender claims for itself is replaced by the event's id; those
    of other systems it passed through follow, most recent system first (TMF)."""
    upstream = {"id": "po-77", "owner": "shop", "externalIdentifierType": "POnumber"}
    own = {"id": "stale", "owner": "pss-x"}
    carried = _carried(externalId=[own, upstream])
    response = client.post(EVENTS, json=_creation(carried), headers=auth("pss-x", "pss"))
    assert response.status_code == 201, response.text
    ids = response.json()["event"]["productOrder"]["externalId"]
    assert [(e["id"], e["owner"]) for e in ids] == [("x-1", "pss-x"), ("po-77", "shop")]


def test_a_resent_creation_creates_one_order_PSI_01_02_03_01(
    world: World, client: TestClient, auth: Auth, engine: Engine
) -> None:
    """The same (sender, eventId) again answers 200 with the first answer, whatever it
    carries now; another sender's same eventId is another event."""
    pss = auth("pss-x", "pss")
    first = client.post(EVENTS, json=_creation(_carried()), headers=pss)
    assert first.status_code == 201, first.text
    again = client.post(EVENTS, json=_creation(_carried()), headers=pss)
    changed = client.post(EVENTS, json=_creation(_carried("x-2", description="x")), headers=pss)
    broken = client.post(EVENTS, json=_creation({"id": "x-3"}), headers=pss)
    for resent in (again, changed, broken):
        assert resent.status_code == 200, resent.text
        assert _answer(resent) == _answer(first)
    assert _count(engine, orders) == 1
    assert _count(engine, received_events) == 1


def test_concurrent_resends_of_a_creation_create_one_order_PSI_01_02_03_01(
    world: World, client: TestClient, auth: Auth, engine: Engine
) -> None:
    """Ten copies of one creation event at once (a sender's retries racing): one 201,
    nine 200 with the same answer, one order (PostgreSQL: real concurrent inserts)."""
    pss = auth("pss-x", "pss")
    for round_ in range(3):
        event = _creation(_carried(f"x-{round_}"), event_id=f"race-{round_}")

        def resend(event: dict[str, Any] = event) -> httpx.Response:
            response: httpx.Response = client.post(EVENTS, json=event, headers=pss)
            return response

        answers = at_once(10, resend)
        assert statuses(answers) == [200] * 9 + [201], [a.text for a in answers]
        assert len({a.json()["event"]["productOrder"]["id"] for a in answers}) == 1
    assert _count(engine, orders) == 3


def _refusals(client: TestClient, who: dict[str, str], carried: dict[str, Any]) -> list[Any]:
    """The POST answer and the creation event's answer for the same order by ``who``."""
    post_body = {k: v for k, v in copy.deepcopy(carried).items() if k != "id"}
    posted = client.post(ORDERS, json=post_body, headers=who)
    by_event = client.post(EVENTS, json=_creation(carried, event_id="refused"), headers=who)
    return [posted, by_event]


def test_a_pss_not_entitled_is_refused_as_by_post_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth, engine: Engine
) -> None:
    """pss-y has no grant from dave: the event gets POST's 403 and its message."""
    posted, by_event = _refusals(client, auth("pss-y", "pss"), _carried())
    assert posted.status_code == by_event.status_code == 403, by_event.text
    assert _answer(by_event) == _answer(posted)
    assert "may not order on behalf of party 'dave'" in by_event.json()["message"]
    assert _count(engine, orders) == 0
    assert _count(engine, received_events) == 0


@pytest.mark.parametrize("role", ["provider", "customer"])
def test_only_a_pss_creates_by_event_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth, engine: Engine, role: str
) -> None:
    """A provider may not create at all (403 as by POST); a customer creates with POST,
    not by event (403 naming the way); governance is refused too; nothing is kept."""
    for who in (auth("prov-a", role), auth("gov", "governance")):
        answer = client.post(EVENTS, json=_creation(_carried()), headers=who)
        assert answer.status_code == 403, answer.text
        body = answer.json()
        assert body["code"] and body["reason"] and "only another PSS" in body["message"]
    posted = client.post(ORDERS, json=order_body("off-a"), headers=auth("prov-a", "provider"))
    assert posted.status_code == 403
    stranger = client.post(EVENTS, json=_creation(_carried()))  # no token at all
    assert stranger.status_code == 401, stranger.text
    assert _count(engine, orders) == 0
    assert _count(engine, received_events) == 0


BAD_ORDERS: dict[str, dict[str, Any]] = {
    "no items": {"description": "nothing"},
    "unknown field": {**order_body("off-a"), "colour": "red"},
    "server field": {**order_body("off-a"), "state": "completed"},
    "forged provider field": {**order_body("off-a"), "productOrderMilestone": []},
    "unknown offering": order_body("off-zz"),
    "wrong type": {"productOrderItem": "everything"},
    "duplicate item ids": {
        "productOrderItem": [
            {"id": "1", "action": "add", "productOffering": {"id": "off-a"}},
            {"id": "1", "action": "add", "productOffering": {"id": "off-b"}},
        ]
    },
    "bad date": {**order_body("off-a"), "requestedStartDate": "tomorrow"},
    "two customers": order_body(
        "off-a", relatedParty=[customer_ref("dave"), customer_ref("carol")]
    ),
    "external id not a list": {**order_body("off-a"), "externalId": {"id": "1"}},
}


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_a_malformed_carried_order_is_refused_as_by_post_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth, engine: Engine, case: str
) -> None:
    """Every class of bad order gets, by event, the status and TMF Error the same POST
    gets (400/403/422), and changes nothing."""
    carried = {"id": "x-bad", "relatedParty": [customer_ref("dave")], **BAD_ORDERS[case]}
    posted, by_event = _refusals(client, auth("pss-x", "pss"), carried)
    assert posted.status_code in (400, 403, 422), posted.text
    assert by_event.status_code == posted.status_code, by_event.text
    assert _answer(by_event) == _answer(posted)
    assert set(by_event.json()) >= {"code", "reason", "message", "status"}
    assert _count(engine, orders) == 0
    assert _count(engine, received_events) == 0


@pytest.mark.parametrize(
    "event",
    [
        {"eventId": "n-1", "eventType": "orderCreationNotification", "event": {}},
        {"eventId": "n-1", "eventType": "orderCreationNotification", "event": {"productOrder": 7}},
        _creation({**order_body("off-a"), "id": "  "}),
        _creation(order_body("off-a")),  # no id: the sender's id is required
        {"eventType": "orderCreationNotification", "event": {"productOrder": _carried()}},
    ],
)
def test_a_creation_event_without_its_parts_is_refused(
    world: World, client: TestClient, auth: Auth, engine: Engine, event: dict[str, Any]
) -> None:
    answer = client.post(EVENTS, json=event, headers=auth("pss-x", "pss"))
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["@type"] == "Error"
    assert _count(engine, orders) == 0


def test_an_oversized_creation_event_is_refused_413(
    world: World, client: TestClient, auth: Auth, engine: Engine
) -> None:
    carried = _carried(description="x" * 70_000)
    answer = client.post(EVENTS, json=_creation(carried), headers=auth("pss-x", "pss"))
    assert answer.status_code == 413, answer.text
    assert _count(engine, orders) == 0


def _created(client: TestClient, auth: Auth) -> str:
    response = client.post(EVENTS, json=_creation(_carried()), headers=auth("pss-x", "pss"))
    assert response.status_code == 201, response.text
    return str(response.json()["event"]["productOrder"]["id"])


def test_the_creating_pss_updates_and_cancels_by_event_PSI_03_02_02_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Value change and cancellation request from the PSS that created the order apply
    under its PATCH rules: allowed fields change, the cancellation is assessed."""
    pss = auth("pss-x", "pss")
    order_id = _created(client, auth)
    value = {
        "eventId": "u-1",
        "eventType": "orderValueChangeNotification",
        "event": {"productOrder": {"id": order_id, "description": "second floor"}},
    }
    assert client.post(EVENTS, json=value, headers=pss).status_code == 201
    cancel = {
        "eventId": "u-2",
        "eventType": "orderStateChangeNotification",
        "event": {
            "productOrder": {"id": order_id, "state": "cancelled", "cancellationReason": "moved"}
        },
    }
    response = client.post(EVENTS, json=cancel, headers=pss)
    assert response.status_code == 201, response.text
    doc = client.get(f"{ORDERS}/{order_id}", headers=auth("dave")).json()
    assert doc["description"] == "second floor"
    assert doc["state"] == "cancelled"


def test_updates_by_event_obey_the_pss_patch_rules_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """What its PATCH may not do, its event may not either, with the same status:
    a provider's field, the items once submitted, another PSS's order."""
    order_id = _created(client, auth)
    url = f"{ORDERS}/{order_id}"
    merge = {"Content-Type": "application/merge-patch+json"}
    cases: list[tuple[dict[str, str], dict[str, Any]]] = [
        (auth("pss-x", "pss"), {"expectedCompletionDate": "2027-01-01T00:00:00Z"}),
        (auth("pss-x", "pss"), {"productOrderItem": [{"id": "1", "quantity": 3}]}),
        (auth("pss-y", "pss"), {"description": "not mine"}),
    ]
    for n, (who, change) in enumerate(cases):
        patched = client.patch(url, json=change, headers={**who, **merge})
        event = {
            "eventId": f"bad-{n}",
            "eventType": "orderValueChangeNotification",
            "event": {"productOrder": {"id": order_id, **change}},
        }
        by_event = client.post(EVENTS, json=event, headers=who)
        assert patched.status_code >= 400, patched.text
        assert by_event.status_code == patched.status_code, (change, by_event.text)
    doc = client.get(url, headers=auth("dave")).json()
    assert "expectedCompletionDate" not in doc
    assert "description" not in doc


def test_post_and_patch_keep_working_for_a_pss_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    pss = auth("pss-x", "pss")
    created = world.create(pss, order_body("off-a", relatedParty=[customer_ref("dave")]))
    patched = client.patch(
        f"{ORDERS}/{created['id']}",
        json={"description": "by PATCH"},
        headers={**pss, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text


def test_the_creating_pss_may_name_the_order_by_its_own_id_PSI_01_02_03_02(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A PSS that created an order by event may keep naming it by its own id (the
    externalId it owns); nobody else can reach an order by that id, and an id another
    party wrote into an externalId claiming to be the PSS's does not count."""
    order_id = _created(client, auth)
    forged = dict(order_body("off-a"), externalId=[{"id": "x-1", "owner": "pss-x"}])
    world.create(auth("dave"), forged)  # dave's own order claims pss-x's id
    value = {
        "eventId": "by-own-id",
        "eventType": "orderValueChangeNotification",
        "event": {"productOrder": {"id": "x-1", "description": "named by pss-x's id"}},
    }
    response = client.post(EVENTS, json=value, headers=auth("pss-x", "pss"))
    assert response.status_code == 201, response.text
    doc = client.get(f"{ORDERS}/{order_id}", headers=auth("dave")).json()
    assert doc["description"] == "named by pss-x's id"
    other = client.post(EVENTS, json={**value, "eventId": "y"}, headers=auth("pss-y", "pss"))
    assert other.status_code == 404, other.text


def test_an_event_asking_for_what_holds_changes_nothing_even_when_final(
    world: World, client: TestClient, auth: Auth, engine: Engine
) -> None:
    """Two systems telling each other their state converge: a cancellation request for
    a cancelled order is accepted and changes nothing (a PATCH still gets 409)."""
    pss = auth("pss-x", "pss")
    order_id = _created(client, auth)
    cancel = {
        "eventId": "k-1",
        "eventType": "orderStateChangeNotification",
        "event": {"productOrder": {"id": order_id, "state": "cancelled"}},
    }
    assert client.post(EVENTS, json=cancel, headers=pss).status_code == 201
    version = client.get(f"{ORDERS}/{order_id}", headers=pss).headers["etag"]
    again = client.post(EVENTS, json={**cancel, "eventId": "k-2"}, headers=pss)
    assert again.status_code == 201, again.text
    assert client.get(f"{ORDERS}/{order_id}", headers=pss).headers["etag"] == version
    patched = client.patch(
        f"{ORDERS}/{order_id}",
        json={"state": "cancelled"},
        headers={**pss, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 409
    changed = {**cancel, "eventId": "k-3"}
    changed["event"] = {"productOrder": {"id": order_id, "description": "late"}}
    assert client.post(EVENTS, json=changed, headers=pss).status_code == 409
