"""How delivery handles failures, over real HTTP to a scripted receiver on 127.0.0.1.

Retries follow the schedule (PSI-01-02-03-06), a failing event holds back the
ones behind it but not other callbacks (PSI-01-02-03-08), the callback halts
after the last retry until resumed (PSI-01-02-03-07); 429/503 ``Retry-After``,
timeouts, redirects (not followed), 410 (disables) and connection resets are
each a failure of their own kind. Time moves only with the ManualClock, so a
retry falls due exactly when the test advances past its ``nextAttemptAt``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.domain.timestamps import parse_instant
from pss_ordering.store.schema import deliveries, delivery_attempts
from tests.conftest import Auth
from tests.delivery import HUB, SCHEDULE, Deliver, hub_settings, subscribe
from tests.receiver import Answer, Receiver
from tests.world import ORDERS, World, order_body

CREATED = "orderCreationNotification"
CHANGED = "orderValueChangeNotification"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


def _health(client: TestClient, headers: dict[str, str], hub_id: str) -> dict[str, Any]:
    response = client.get(f"{HUB}/order/hub/{hub_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _at(value: str) -> datetime:
    return parse_instant(value)


def _waits(health: dict[str, Any], seconds: float) -> None:
    """The callback waits exactly ``seconds`` after its last attempt (jitter is 0)."""
    assert health["state"] == "active"
    assert _at(health["nextAttemptAt"]) == _at(health["lastAttemptAt"]) + timedelta(seconds=seconds)


def _describe(client: TestClient, headers: dict[str, str], order_id: str, text: str) -> None:
    response = client.patch(f"{ORDERS}/{order_id}", json={"description": text}, headers=headers)
    assert response.status_code == 200, response.text


def _attempts(client: TestClient, hub_id: str) -> list[tuple[int | None, str | None]]:
    """(status, error) of every attempt recorded for the callback, oldest first."""
    database = client.app.state.services.database  # type: ignore[attr-defined]
    query = (
        select(delivery_attempts.c.status, delivery_attempts.c.error)
        .join_from(
            delivery_attempts, deliveries, deliveries.c.id == delivery_attempts.c.delivery_id
        )
        .where(deliveries.c.subscription_id == hub_id)
        .order_by(delivery_attempts.c.id)
    )
    with database.engine.connect() as connection:
        return [(row.status, row.error) for row in connection.execute(query)]


def _kinds(bodies: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(eventType, order description) of each delivered event, to compare with commit order."""
    return [(b["eventType"], b["event"]["productOrder"].get("description")) for b in bodies]


def test_retries_follow_the_schedule_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """500, 500, 200: each retry waits for its step of the schedule, and not a moment less.

    The event is the same on every attempt (same webhook-id), so the receiver
    can de-duplicate, and it is accepted exactly once.
    """
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", 500, 500)
    world.create(dave, order_body("off-a"))

    deliver()
    first = _health(client, dave, hub["id"])
    assert first["consecutiveFailures"] == 1
    assert first["lastStatus"] == 500
    assert first["lastError"] == "HTTP 500"
    assert first["pendingCount"] == 1
    assert _at(first["lastAttemptAt"]) == clock.now()
    _waits(first, SCHEDULE[0])

    for step, status in enumerate((500, 200)):
        wait = timedelta(seconds=SCHEDULE[step])
        clock.advance(wait - timedelta(milliseconds=1))
        deliver()
        assert len(receiver.on("/dave")) == step + 1, "nothing is sent before the retry is due"
        clock.advance(timedelta(milliseconds=1))
        deliver()
        assert len(receiver.on("/dave")) == step + 2
        assert receiver.on("/dave")[-1].answered == status
        if status == 500:
            second = _health(client, dave, hub["id"])
            assert second["consecutiveFailures"] == 2
            _waits(second, SCHEDULE[1])

    done = _health(client, dave, hub["id"])
    assert done["state"] == "active"
    assert done["consecutiveFailures"] == 0
    assert done["deliveredCount"] == 1
    assert done["pendingCount"] == 0
    assert done["lastStatus"] == 200
    assert done.get("nextAttemptAt") is None
    assert done.get("lastError") is None
    [created] = receiver.delivered("/dave")
    assert created["eventType"] == CREATED
    assert {r.event_id for r in receiver.on("/dave")} == {created["eventId"]}
    assert [status for status, _ in _attempts(client, hub["id"])] == [500, 500, 200]
    deliver()
    assert len(receiver.on("/dave")) == 3, "a delivered event is not sent again"


def test_order_kept_through_failures_PSI_01_02_03_08(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """The head event failing twice holds back the two behind it; another callback is not held.

    Every request the failing callback sees is for the head event until it is
    accepted, and the accepted events arrive in commit order.
    """
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    hub = subscribe(client, dave, receiver.url("/dave"))
    other = subscribe(client, prov_a, receiver.url("/prov-a"))
    receiver.script("/dave", 500, 503)
    order = world.create(dave, order_body("off-a"))
    _describe(client, dave, order["id"], "first")
    _describe(client, dave, order["id"], "second")

    deliver()
    assert len(receiver.on("/dave")) == 1
    assert receiver.delivered("/prov-a")[0]["eventType"] == CREATED
    assert _health(client, prov_a, other["id"])["pendingCount"] == 0, "not blocked by /dave"
    assert _health(client, dave, hub["id"])["pendingCount"] == 3

    for wait in SCHEDULE[:2]:
        clock.advance(timedelta(seconds=wait))
        deliver()

    head = receiver.on("/dave")[0].event_id
    sent = [r.event_id for r in receiver.on("/dave")]
    assert sent[:3] == [head, head, head], "nothing behind the head goes out before it succeeds"
    assert len(sent) == 5 and len(set(sent)) == 3, "then each of the others exactly once"
    assert _kinds(receiver.delivered("/dave")) == [
        (CREATED, None),
        (CHANGED, "first"),
        (CHANGED, "second"),
    ]
    health = _health(client, dave, hub["id"])
    assert (health["pendingCount"], health["deliveredCount"]) == (0, 3)


@pytest.mark.parametrize("resumer", ["owner", "governance"])
def test_halt_after_last_retry_then_resume_PSI_01_02_03_07(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
    resumer: str,
) -> None:
    """After the last scheduled retry fails the callback halts: events queue, nothing is sent.

    Only its owner or governance may resume it (anyone else: 404, as if it did
    not exist); then everything held back goes out in commit order.
    """
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", *[500] * (len(SCHEDULE) + 1))
    order = world.create(dave, order_body("off-a"))
    deliver()
    for wait in SCHEDULE:
        clock.advance(timedelta(seconds=wait))
        deliver()

    halted = _health(client, dave, hub["id"])
    assert halted["state"] == "halted"
    assert halted["consecutiveFailures"] == len(SCHEDULE) + 1
    assert halted.get("nextAttemptAt") is None
    assert len(receiver.on("/dave")) == len(SCHEDULE) + 1
    _describe(client, dave, order["id"], "first")
    _describe(client, dave, order["id"], "second")
    assert _health(client, dave, hub["id"])["pendingCount"] == 3, "halted callbacks keep queueing"
    clock.advance(timedelta(days=1))
    deliver()
    assert len(receiver.on("/dave")) == len(SCHEDULE) + 1, "nothing is sent while halted"

    resume = f"{HUB}/order/hub/{hub['id']}/resume"
    assert client.post(resume, headers=auth("prov-a", "provider")).status_code == 404
    assert client.get(f"{HUB}/order/hub/{hub['id']}", headers=auth("erin")).status_code == 404
    resumed = client.post(resume, headers=dave if resumer == "owner" else world.gov)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "active"
    assert resumed.json()["consecutiveFailures"] == 0
    assert resumed.json()["pendingCount"] == 3

    deliver()
    assert _kinds(receiver.delivered("/dave")) == [
        (CREATED, None),
        (CHANGED, "first"),
        (CHANGED, "second"),
    ]
    done = _health(client, dave, hub["id"])
    assert (done["state"], done["pendingCount"], done["deliveredCount"]) == ("active", 0, 3)
    assert len(_attempts(client, hub["id"])) == len(SCHEDULE) + 1 + 3


@pytest.mark.parametrize(
    ("status", "retry_after", "waits"),
    [
        (429, "120", 120.0),
        (503, "120", 120.0),
        (429, "1", SCHEDULE[0]),
    ],
    ids=["429", "503", "shorter-than-schedule"],
)
def test_retry_after_honoured_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
    status: int,
    retry_after: str,
    waits: float,
) -> None:
    """A 429/503 ``Retry-After`` longer than the schedule's step is waited for.

    A shorter one does not make the PSS retry sooner than its schedule.
    """
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", Answer(status, {"Retry-After": retry_after}))
    world.create(dave, order_body("off-a"))
    deliver()

    health = _health(client, dave, hub["id"])
    assert health["lastStatus"] == status
    _waits(health, waits)
    clock.advance(timedelta(seconds=waits - 1))
    deliver()
    assert len(receiver.on("/dave")) == 1
    clock.advance(timedelta(seconds=1))
    deliver()
    assert [b["eventType"] for b in receiver.delivered("/dave")] == [CREATED]


def test_timeout_is_a_failure_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """A receiver slower than the delivery timeout (1s here) has failed; the retry succeeds."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", Answer.hold())
    world.create(dave, order_body("off-a"))
    deliver()

    health = _health(client, dave, hub["id"])
    assert health["consecutiveFailures"] == 1
    assert health.get("lastStatus") is None
    assert "timed out" in health["lastError"]
    _waits(health, SCHEDULE[0])
    clock.advance(timedelta(seconds=SCHEDULE[0]))
    deliver()
    done = _health(client, dave, hub["id"])
    assert (done["consecutiveFailures"], done["deliveredCount"]) == (0, 1)
    [timed_out, accepted] = _attempts(client, hub["id"])
    assert timed_out[0] is None and "timed out" in (timed_out[1] or "")
    assert accepted == (200, None)


def test_redirect_not_followed_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """A 302 is a failure, and the event is never sent to where it points."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", Answer(302, {"Location": receiver.url("/elsewhere")}))
    world.create(dave, order_body("off-a"))
    deliver()

    health = _health(client, dave, hub["id"])
    assert health["lastStatus"] == 302
    assert health["consecutiveFailures"] == 1
    assert "not followed" in health["lastError"]
    assert receiver.url("/elsewhere") in health["lastError"]
    _waits(health, SCHEDULE[0])
    clock.advance(timedelta(seconds=SCHEDULE[0]))
    deliver()
    assert receiver.on("/elsewhere") == []
    assert [b["eventType"] for b in receiver.delivered("/dave")] == [CREATED]
    assert [status for status, _ in _attempts(client, hub["id"])] == [302, 200]


def test_gone_disables_the_callback_until_resumed_PSI_01_02_03_07(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """410 Gone: the receiver wants nothing more, so later events are not even queued.

    The event it refused stays pending; a resume re-enables the callback and
    sends it, and events from then on are queued again.
    """
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", 410)
    order = world.create(dave, order_body("off-a"))
    deliver()

    disabled = _health(client, dave, hub["id"])
    assert disabled["state"] == "disabled"
    assert disabled["lastStatus"] == 410
    assert disabled.get("nextAttemptAt") is None
    assert disabled["pendingCount"] == 1
    _describe(client, dave, order["id"], "while disabled")
    assert _health(client, dave, hub["id"])["pendingCount"] == 1, "not queued while disabled"
    clock.advance(timedelta(days=1))
    deliver()
    assert len(receiver.on("/dave")) == 1

    resumed = client.post(f"{HUB}/order/hub/{hub['id']}/resume", headers=dave)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "active"
    _describe(client, dave, order["id"], "after resume")
    deliver()
    assert _kinds(receiver.delivered("/dave")) == [
        (CREATED, None),
        (CHANGED, "after resume"),
    ]
    assert [status for status, _ in _attempts(client, hub["id"])] == [410, 200, 200]


def test_connection_reset_is_a_failure_PSI_01_02_03_06(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """A connection reset without an answer is a failure; the retry resends the same event."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/dave"))
    receiver.script("/dave", Answer.connection_reset())
    world.create(dave, order_body("off-a"))
    deliver()

    health = _health(client, dave, hub["id"])
    assert health["consecutiveFailures"] == 1
    assert health.get("lastStatus") is None
    assert health["lastError"]
    _waits(health, SCHEDULE[0])
    clock.advance(timedelta(seconds=SCHEDULE[0]))
    deliver()
    [reset, accepted] = receiver.on("/dave")
    assert (reset.answered, accepted.answered) == (None, 200)
    assert reset.event_id == accepted.event_id
    assert _health(client, dave, hub["id"])["deliveredCount"] == 1
    assert [status for status, _ in _attempts(client, hub["id"])] == [None, 200]
