"""The retention policy removes old records, and never what is still needed (issue 15).

Over HTTP on both databases, time moved by the ManualClock. Each "never" rule has
a test that fails if the rule is dropped: an event a live callback (active, or
halted until resumed: PSI-01-02-03-07) has not received, the idempotency record of
a received event within its sender's resend window (PSI-01-02-03-01), what the
response-time figures of the metrics window read, and a halted callback's last
state. Orders deleted by governance leave their events to the policy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.domain.retention import PruneReport
from pss_ordering.store.schema import deliveries, delivery_attempts, events
from tests.conftest import Auth
from tests.delivery import HUB, SCHEDULE, Deliver, hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

EVENTS = f"{HUB}/order/event"
MONITORING = "/psi-api/orderMonitoring/v1"
EVENT_DAYS, ATTEMPT_DAYS, RECEIVED_DAYS, DEADLINE_DAYS = 10, 5, 2, 20


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(
        settings,
        receiver,
        retention_events=timedelta(days=EVENT_DAYS),
        retention_delivery_attempts=timedelta(days=ATTEMPT_DAYS),
        retention_received_events=timedelta(days=RECEIVED_DAYS),
        retention_response_deadlines=timedelta(days=DEADLINE_DAYS),
        retention_batch=3,
    )


def _prune(client: TestClient, dry_run: bool = False) -> PruneReport:
    return client.app.state.services.retention.prune(dry_run=dry_run)  # type: ignore[attr-defined,no-any-return]


def _rows(client: TestClient) -> dict[str, int]:
    return client.app.state.services.retention.counts()  # type: ignore[attr-defined,no-any-return]


def _scalar(client: TestClient, query: Any) -> Any:
    with client.app.state.services.database.engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(query).scalar_one()


def _event_ids(client: TestClient) -> set[str]:
    with client.app.state.services.database.engine.connect() as connection:  # type: ignore[attr-defined]
        return {row[0] for row in connection.execute(select(events.c.event_id))}


def _health(client: TestClient, headers: dict[str, str], hub_id: str) -> dict[str, Any]:
    response = client.get(f"{HUB}/order/hub/{hub_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _halt(
    client: TestClient, receiver: Receiver, deliver: Deliver, clock: ManualClock, path: str
) -> None:
    """Fail the head event through the whole schedule: the callback halts."""
    receiver.script(path, *[500] * (len(SCHEDULE) + 1))
    deliver()
    for wait in SCHEDULE:
        clock.advance(timedelta(seconds=wait))
        deliver()


def test_old_events_go_with_their_deliveries_attempts_and_providers(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """An event past PSS_RETENTION_EVENTS that every callback received goes, with what
    hangs on it; a younger one stays. Several small batches (PSS_RETENTION_BATCH=3)."""
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    subscribe(client, auth("prov-a", "provider"), receiver.url("/prov-a"))
    for _ in range(3):
        world.create(dave, order_body("off-a"))
    deliver()
    old = _event_ids(client)
    before = _rows(client)
    assert before["delivery_attempts"] == before["deliveries"] == 6
    clock.advance(timedelta(days=EVENT_DAYS, seconds=1))
    world.create(dave, order_body("off-a"))
    deliver()

    report = _prune(client)

    assert _event_ids(client).isdisjoint(old)
    assert len(_event_ids(client)) == 1  # the new order's creation
    after = _rows(client)
    assert report.rows["events"] == len(old)
    assert report.rows["deliveries"] == 6
    assert report.rows["event_providers"] == before["event_providers"]
    assert after["deliveries"] == after["delivery_attempts"] == 2
    assert report.batches >= 3, "three events at most per batch"
    assert _prune(client).total == 0, "a second run finds nothing more"
    dave_listed = client.get(EVENTS, headers=dave)
    assert dave_listed.headers["x-total-count"] == "1"


@pytest.mark.parametrize("state", ["active", "halted"])
def test_undelivered_events_stay_for_a_live_callback_PSI_01_02_03_07(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
    state: str,
) -> None:
    """A callback still retrying, or halted until someone resumes it, keeps every event it
    has not received, however old; resumed, it receives them all in order. A halted
    callback's last state (its health, the head event's attempts) is kept as well."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    first = world.create(dave, order_body("off-a"))
    if state == "halted":
        _halt(client, receiver, deliver, clock, "/dave")
    else:
        receiver.script("/dave", 500)
        deliver()
    world.create(dave, order_body("off-a"))
    health = _health(client, dave, hub["id"])
    assert health["state"] == state and health["pendingCount"] == 2
    attempts = _scalar(client, select(func.count()).select_from(delivery_attempts))
    clock.advance(timedelta(days=EVENT_DAYS + ATTEMPT_DAYS))

    report = _prune(client)

    assert report.rows["events"] == report.rows["delivery_attempts"] == 0
    kept = _health(client, dave, hub["id"])
    assert {k: v for k, v in kept.items() if k != "nextAttemptAt"} == {
        k: v for k, v in health.items() if k != "nextAttemptAt"
    }
    assert _scalar(client, select(func.count()).select_from(delivery_attempts)) == attempts
    if state == "halted":
        resumed = client.post(f"{HUB}/order/hub/{hub['id']}/resume", headers=dave)
        assert resumed.status_code == 200, resumed.text
    deliver()
    received = receiver.delivered("/dave")
    assert len(received) == 2
    assert received[0]["event"]["productOrder"]["id"] == first["id"]


def test_a_disabled_callbacks_undelivered_events_follow_the_policy(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """410 Gone disables a callback (the receiver wants no more): what it did not receive
    is not kept past the retention, unlike a live callback's (decision, README)."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", 410)
    world.create(dave, order_body("off-a"))
    deliver()
    assert _health(client, dave, hub["id"])["state"] == "disabled"
    clock.advance(timedelta(days=EVENT_DAYS, seconds=1))
    report = _prune(client)
    assert report.rows["events"] == 1 and _rows(client)["events"] == 0
    assert _health(client, dave, hub["id"])["pendingCount"] == 0


def test_old_attempts_go_but_not_those_of_a_pending_delivery(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """Attempts past PSS_RETENTION_DELIVERY_ATTEMPTS go (their events stay, younger than
    theirs); the attempts of a delivery still pending (a halted head event) stay."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    subscribe(client, prov_a, receiver.url("/ok"))
    halted = subscribe(client, dave, receiver.url("/dave"))
    world.create(dave, order_body("off-a"))
    _halt(client, receiver, deliver, clock, "/dave")
    head_attempts = len(SCHEDULE) + 1
    assert _scalar(client, select(func.count()).select_from(delivery_attempts)) == (
        head_attempts + 1
    )
    clock.advance(timedelta(days=ATTEMPT_DAYS, seconds=1))

    report = _prune(client, dry_run=True)
    assert report.rows["delivery_attempts"] == 1 and report.rows["events"] == 0
    assert _prune(client).rows == report.rows

    remaining = select(deliveries.c.subscription_id).join(
        delivery_attempts, delivery_attempts.c.delivery_id == deliveries.c.id
    )
    with client.app.state.services.database.engine.connect() as connection:  # type: ignore[attr-defined]
        owners = [row[0] for row in connection.execute(remaining)]
    assert owners == [halted["id"]] * head_attempts
    assert _rows(client)["events"] == 1


def test_received_events_are_kept_through_the_resend_window_PSI_01_02_03_01(
    world: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    """Within PSS_RETENTION_RECEIVED_EVENTS a resent eventId is still answered with the
    first answer and changes nothing, pruning or not; after it, the record goes."""
    prov_a = auth("prov-a", "provider")
    order = world.create(auth("dave"), order_body("off-a"))
    event = {
        "eventId": "evt-1",
        "eventType": "orderStateChangeNotification",
        "event": {
            "productOrder": {
                "id": order["id"],
                "productOrderItem": [{"id": "1", "state": "acknowledged"}],
            }
        },
    }
    first = client.post(EVENTS, json=event, headers=prov_a)
    assert first.status_code == 201, first.text
    clock.advance(timedelta(days=RECEIVED_DAYS) - timedelta(seconds=1))
    assert _prune(client).rows["received_events"] == 0
    again = client.post(EVENTS, json=event, headers=prov_a)
    assert again.status_code == 200 and again.json() == first.json()

    clock.advance(timedelta(seconds=2))
    assert _prune(client).rows["received_events"] == 1
    assert _rows(client)["received_events"] == 0


def _ack(client: TestClient, auth: Auth, order: dict[str, Any], provider: str) -> None:
    view = client.get(f"{ORDERS}/{order['id']}", headers=auth(provider, "provider")).json()
    items = [{**item, "state": "acknowledged"} for item in view["productOrderItem"]]
    response = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"productOrderItem": items},
        headers=auth(provider, "provider"),
    )
    assert response.status_code == 200, response.text


def _figures(client: TestClient, world: World, **params: str) -> Any:
    response = client.get(f"{MONITORING}/providerResponseTime", params=params, headers=world.gov)
    assert response.status_code == 200, response.text
    return response.json()


def test_closed_deadlines_go_open_ones_and_the_metrics_window_stay(
    world: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    """A response deadline closed and started before PSS_RETENTION_RESPONSE_DEADLINES
    goes; one still open stays however old; the figures of the window do not change."""
    dave = auth("dave")
    answered = world.create(dave, order_body("off-a"))
    world.create(dave, order_body("off-b"))  # prov-b never answers
    _ack(client, auth, answered, "prov-a")
    clock.advance(timedelta(days=DEADLINE_DAYS, seconds=1))
    recent = world.create(dave, order_body("off-a"))
    _ack(client, auth, recent, "prov-a")
    window = client.app.state.services.settings.metrics_window  # type: ignore[attr-defined]
    since = {"from": (clock.now() - window).isoformat()}
    figures = _figures(client, world, **since)

    report = _prune(client)

    assert report.rows["response_deadlines"] == 1
    assert _rows(client)["response_deadlines"] == 2
    assert _figures(client, world, **since) == figures
    everything = {f["provider"]["id"]: f for f in _figures(client, world)}
    assert everything["prov-b"]["open"] == 1, "an open deadline is never pruned"
    assert everything["prov-a"]["ordersReceived"] == 1


def test_a_deleted_orders_events_follow_the_policy(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """Governance's DELETE removes the order; its events stay listed for their retention
    (deliveries already queued still go out), then go like any other."""
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    order = world.create(dave, order_body("off-a"))
    assert client.delete(f"{ORDERS}/{order['id']}", headers=world.gov).status_code == 204
    deliver()
    listed = client.get(EVENTS, headers=world.gov).json()
    assert {e["event"]["productOrder"]["id"] for e in listed} == {order["id"]}
    clock.advance(timedelta(days=EVENT_DAYS) - timedelta(seconds=1))
    assert _prune(client).rows["events"] == 0
    clock.advance(timedelta(seconds=2))
    assert _prune(client).rows["events"] == len(listed)
    assert client.get(EVENTS, headers=world.gov).json() == []


def test_a_deleted_orders_open_deadline_is_closed_then_follows_the_policy(
    world: World, client: TestClient, clock: ManualClock, auth: Auth
) -> None:
    """Governance's DELETE withdraws the order's deadlines: no longer counted open (nor
    ever past their deadline), still counted as received, then pruned in time."""
    order = world.create(auth("dave"), order_body("off-a"))
    assert _figures(client, world)[0]["open"] == 1
    assert client.delete(f"{ORDERS}/{order['id']}", headers=world.gov).status_code == 204
    [figures] = _figures(client, world)
    assert (figures["ordersReceived"], figures["open"]) == (1, 0)
    clock.advance(timedelta(days=DEADLINE_DAYS, seconds=1))
    assert _figures(client, world)[0]["openPastDeadline"] == 0
    assert _prune(client).rows["response_deadlines"] == 1


def test_a_dry_run_reports_exactly_what_a_run_removes_and_removes_nothing(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    for _ in range(4):
        _ack(client, auth, world.create(dave, order_body("off-a")), "prov-a")
    deliver()
    clock.advance(timedelta(days=DEADLINE_DAYS, seconds=1))
    before = _rows(client)
    planned = _prune(client, dry_run=True)
    assert _rows(client) == before
    assert planned.total > 0 and planned.dry_run
    done = _prune(client)
    assert done.rows == planned.rows
    assert {t: before[t] - n for t, n in done.rows.items()} == _rows(client)
