"""Provider response time over HTTP with an injected clock (issue 5; TOD-03-02, PSI-01-01-02-08).

Governance sets each provider's ``responseTime``; every submitted order gives
each of its providers a deadline; the PSS records when each answers, raises a
jeopardy alert and an alarm when a deadline passes, and keeps the figures.
Timers fire when the test calls ``timers.fire_due()`` after moving the clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import Deliver, hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import OFFERINGS, ORDERS, PARTIES, World, order_body, provider_ref

MONITORING = "/psi-api/orderMonitoring/v1"
T0 = "2026-11-24T12:00:00.000Z"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


def _set_response_time(client: TestClient, world: World, provider: str, value: str) -> None:
    response = client.patch(
        f"{PARTIES}/organization/{provider}",
        json={"partyCharacteristic": [{"name": "responseTime", "value": value}]},
        headers=world.gov,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def timed(world: World, client: TestClient) -> World:
    """prov-a answers within an hour, prov-b within two."""
    _set_response_time(client, world, "prov-a", "PT1H")
    _set_response_time(client, world, "prov-b", "PT2H")
    return world


def _fire(client: TestClient) -> int:
    return client.app.state.services.timers.fire_due()  # type: ignore[attr-defined,no-any-return]


def _ack(client: TestClient, auth: Auth, order: dict[str, Any], provider: str) -> None:
    view = client.get(f"{ORDERS}/{order['id']}", headers=auth(provider, "provider")).json()
    items = [{**item, "state": "acknowledged"} for item in view["productOrderItem"]]
    response = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"productOrderItem": items},
        headers=auth(provider, "provider"),
    )
    assert response.status_code == 200, response.text


def _get(client: TestClient, who: dict[str, str], order: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"{ORDERS}/{order['id']}", headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _figures(client: TestClient, who: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get(f"{MONITORING}/providerResponseTime", params=params, headers=who)
    assert response.status_code == 200, response.text
    return {f["provider"]["id"]: f for f in response.json()}


def _milestones(doc: dict[str, Any]) -> dict[str, str]:
    return {m["id"]: m["status"] for m in doc.get("productOrderMilestone") or []}


def test_deadlines_per_provider_visible_to_customer_and_each_provider_PSI_01_01_02_08(
    timed: World, client: TestClient, auth: Auth
) -> None:
    order = timed.create(auth("dave"))
    milestones = {m["id"]: m for m in order["productOrderMilestone"]}
    assert milestones["responseDeadline:prov-a"]["milestoneDate"] == "2026-11-24T13:00:00.000Z"
    assert milestones["responseDeadline:prov-b"]["milestoneDate"] == "2026-11-24T14:00:00.000Z"
    for provider in ("prov-a", "prov-b"):
        shown = _get(client, auth(provider, "provider"), order)
        assert list(_milestones(shown)) == [f"responseDeadline:{provider}"], "need-to-know"
    assert set(_milestones(_get(client, timed.gov, order))) == set(milestones)


def test_on_time_late_and_never_acknowledged(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    order = timed.create(auth("dave"))
    clock.advance(timedelta(minutes=30))
    _ack(client, auth, order, "prov-a")  # on time
    clock.advance(timedelta(hours=1, minutes=45))  # 14:15: prov-b's 14:00 has passed
    assert _fire(client) == 1
    doc = _get(client, auth("dave"), order)
    [alert] = doc["productOrderJeopardyAlert"]
    assert alert["jeopardyType"] == "responseTimeExceeded"
    assert "prov-b" in alert["message"] and "2026-11-24T14:00:00.000Z" in alert["message"]
    assert _milestones(doc) == {
        "responseDeadline:prov-a": "Completed",
        "responseDeadline:prov-b": "Violated",
    }
    figures = _figures(client, timed.gov)
    assert figures["prov-a"]["acknowledgedOnTime"] == 1
    assert figures["prov-b"]["openPastDeadline"] == 1 and figures["prov-b"]["breaches"] == 1
    open_breaches = client.get(
        f"{MONITORING}/responseTimeBreach", params={"state": "open"}, headers=timed.gov
    ).json()
    assert [b["provider"]["id"] for b in open_breaches] == ["prov-b"]
    assert open_breaches[0]["breachedAt"] == "2026-11-24T14:15:00.000Z"

    clock.advance(timedelta(minutes=15))
    _ack(client, auth, order, "prov-b")  # late, still accepted
    assert _get(client, auth("dave"), order)["state"] == "acknowledged"
    figures = _figures(client, timed.gov)
    assert figures["prov-b"]["acknowledgedLate"] == 1 and figures["prov-b"]["open"] == 0
    closed = client.get(
        f"{MONITORING}/responseTimeBreach", params={"state": "closed"}, headers=timed.gov
    ).json()
    assert closed[0]["acknowledgedAt"] == "2026-11-24T14:30:00.000Z"
    assert closed[0]["responseSeconds"] == 9000


def test_breach_fires_once_and_not_after_an_answer(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    order = timed.create(auth("dave"), order_body("off-a"))
    clock.advance(timedelta(minutes=59))
    _ack(client, auth, order, "prov-a")
    clock.advance(timedelta(days=2))
    assert _fire(client) == 0, "the answered deadline's timer is gone"
    assert "productOrderJeopardyAlert" not in _get(client, auth("dave"), order)


def test_provider_without_response_time_gets_the_default(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    [milestone] = order["productOrderMilestone"]
    assert milestone["milestoneDate"] == "2026-11-25T12:00:00.000Z", "PSS_DEFAULT_RESPONSE_TIME P1D"


def test_response_time_none_means_no_deadline(
    world: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    _set_response_time(client, world, "prov-a", "none")
    order = world.create(auth("dave"), order_body("off-a"))
    assert "productOrderMilestone" not in order
    clock.advance(timedelta(days=30))
    assert _fire(client) == 0
    clock.advance(timedelta(hours=1))
    _ack(client, auth, order, "prov-a")
    [row] = _figures(client, world.gov).values()
    assert row["withoutDeadline"] == 1 and row["acknowledgedOnTime"] == 0
    assert row["responseTimeSeconds"]["max"] == 30 * 86400 + 3600, "still measured"


def test_default_none_applies_to_providers_without_response_time(
    engine: Any, settings: Settings, clock: ManualClock, auth: Auth
) -> None:
    configured = settings.model_copy(update={"default_response_time": None})
    with TestClient(build_app(configured, engine, clock)) as client:
        market = _minimal_market(client, auth)
        order = market.create(auth("dave"), order_body("off-a"))
        assert "productOrderMilestone" not in order


def _minimal_market(client: TestClient, auth: Auth) -> World:
    """prov-a with off-a, without a response time of its own (for apps built in a test)."""
    market = World(client, auth)
    client.post(f"{PARTIES}/organization", json={"id": "prov-a", "name": "A"}, headers=market.gov)
    response = client.post(
        OFFERINGS,
        json={
            "id": "off-a",
            "name": "a",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-a")],
        },
        headers=auth("prov-a", "provider"),
    )
    assert response.status_code == 201, response.text
    return market


def test_response_time_changed_mid_flight_applies_to_later_orders(
    timed: World, client: TestClient, auth: Auth
) -> None:
    first = timed.create(auth("dave"), order_body("off-a"))
    _set_response_time(client, timed, "prov-a", "PT10H")
    second = timed.create(auth("dave"), order_body("off-a"))
    assert first["productOrderMilestone"][0]["milestoneDate"] == "2026-11-24T13:00:00.000Z"
    assert _get(client, auth("dave"), first)["productOrderMilestone"][0]["milestoneDate"] == (
        "2026-11-24T13:00:00.000Z"
    ), "the running deadline keeps the response time it started with"
    assert second["productOrderMilestone"][0]["milestoneDate"] == "2026-11-24T22:00:00.000Z"


def test_draft_gets_its_deadline_when_submitted(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    draft = timed.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    assert "productOrderMilestone" not in draft
    clock.advance(timedelta(hours=5))
    submitted = client.patch(
        f"{ORDERS}/{draft['id']}", json={"state": "acknowledged"}, headers=auth("dave")
    ).json()
    assert submitted["productOrderMilestone"][0]["milestoneDate"] == "2026-11-24T18:00:00.000Z"


def test_no_deadline_while_waiting_for_information_then_from_its_supply(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    offering = "off-imei"
    client.post(
        OFFERINGS,
        json={
            "id": offering,
            "name": offering,
            "lifecycleStatus": "active",
            "prodSpecCharValueUse": [{"name": "IMEI", "minCardinality": 1, "valueType": "string"}],
        },
        headers=auth("prov-a", "provider"),
    )
    order = timed.create(auth("dave"), order_body(offering))
    assert "productOrderMilestone" not in order, "the provider cannot act yet"
    clock.advance(timedelta(hours=3))
    item = {
        **order["productOrderItem"][0],
        "product": {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]},
    }
    resumed = client.patch(
        f"{ORDERS}/{order['id']}", json={"productOrderItem": [item]}, headers=auth("dave")
    ).json()
    [milestone] = resumed["productOrderMilestone"]
    assert milestone["milestoneDate"] == "2026-11-24T16:00:00.000Z", "resumed at 15:00 + PT1H"


def test_grace_policy_none_leaves_the_order_alone(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    order = timed.create(auth("dave"), order_body("off-a"))
    clock.advance(timedelta(days=3))
    assert _fire(client) == 1
    clock.advance(timedelta(days=3))
    assert _fire(client) == 0
    assert _get(client, auth("dave"), order)["state"] == "pending"


def test_grace_policy_reject_rejects_after_the_grace_period(
    engine: Any, settings: Settings, clock: ManualClock, auth: Auth
) -> None:
    configured = settings.model_copy(
        update={"breach_policy": "reject", "breach_grace": timedelta(hours=4)}
    )
    with TestClient(build_app(configured, engine, clock)) as client:
        market = _minimal_market(client, auth)
        order = market.create(auth("dave"), order_body("off-a"))
        clock.advance(timedelta(days=1))
        assert _fire(client) == 1  # the breach
        clock.advance(timedelta(hours=3, minutes=59))
        assert _fire(client) == 0
        assert _get(client, auth("dave"), order)["state"] == "pending"
        clock.advance(timedelta(minutes=1))
        assert _fire(client) == 1  # the grace period is over
        doc = _get(client, auth("dave"), order)
        assert doc["state"] == "rejected"
        assert [i["state"] for i in doc["productOrderItem"]] == ["rejected"]
        [message] = doc["productOrderErrorMessage"]
        assert message["code"] == "responseTimeExceeded"
        assert "grace period of PT4H" in message["message"]


def test_grace_policy_reject_spares_a_late_but_answered_provider(
    engine: Any, settings: Settings, clock: ManualClock, auth: Auth
) -> None:
    configured = settings.model_copy(update={"breach_policy": "reject"})
    with TestClient(build_app(configured, engine, clock)) as client:
        market = _minimal_market(client, auth)
        order = market.create(auth("dave"), order_body("off-a"))
        clock.advance(timedelta(days=1, hours=1))
        assert _fire(client) == 1
        _ack(client, auth, order, "prov-a")
        clock.advance(timedelta(days=1))
        assert _fire(client) == 0, "the grace timer went with the answer"
        assert _get(client, auth("dave"), order)["state"] == "acknowledged"


def test_breach_reaches_governance_and_the_provider_on_the_alarm_topic_and_the_customer(
    timed: World,
    client: TestClient,
    auth: Auth,
    clock: ManualClock,
    receiver: Receiver,
    deliver: Deliver,
) -> None:
    """TOD-01-02: alarms about breaching service levels are in the alarm topic (PSI-01-02-01-02)."""
    subscribe(client, timed.gov, receiver.url("/gov-alarm"), topic="alarm")
    subscribe(client, auth("prov-b", "provider"), receiver.url("/b-alarm"), topic="alarm")
    subscribe(client, auth("prov-a", "provider"), receiver.url("/a-alarm"), topic="alarm")
    subscribe(
        client,
        auth("dave"),
        receiver.url("/dave"),
        query="eventType=orderValueChangeNotification",
    )
    order = timed.create(auth("dave"))
    _ack(client, auth, order, "prov-a")
    clock.advance(timedelta(hours=2, seconds=1))
    assert _fire(client) == 1
    deliver()
    [to_gov] = receiver.delivered("/gov-alarm")
    assert to_gov["eventType"] == "AlarmCreateEvent"
    alarm = to_gov["event"]["alarm"]
    assert alarm["probableCause"] == "responseTimeExceeded"
    assert alarm["alarmedObject"]["id"] == order["id"]
    assert alarm["relatedParty"][0]["partyOrPartyRole"]["id"] == "prov-b"
    assert len(to_gov["event"]["productOrder"]["productOrderItem"]) == 2, "governance: all"
    [to_b] = receiver.delivered("/b-alarm")
    assert [i["id"] for i in to_b["event"]["productOrder"]["productOrderItem"]] == ["2"]
    assert receiver.delivered("/a-alarm") == [], "not prov-a's breach"
    shown = receiver.delivered("/dave")[-1]["event"]["productOrder"]
    assert shown["productOrderJeopardyAlert"][0]["name"] == "responseTimeExceeded"


def test_figures_for_a_known_scenario(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    """prov-a answers after 10, 20, 30 and 90 minutes (one late); one order stays open."""
    for minutes in (10, 20, 30, 90):
        order = timed.create(auth("dave"), order_body("off-a"))
        clock.advance(timedelta(minutes=minutes))
        _fire(client)
        _ack(client, auth, order, "prov-a")
    timed.create(auth("dave"), order_body("off-a"))
    clock.advance(timedelta(hours=2))
    _fire(client)
    [row] = _figures(client, timed.gov).values()
    assert row == {
        "provider": {"id": "prov-a"},
        "ordersReceived": 5,
        "acknowledgedOnTime": 3,
        "acknowledgedLate": 1,
        "open": 1,
        "openPastDeadline": 1,
        "breaches": 2,
        "withoutDeadline": 0,
        "responseTimeSeconds": {"p50": 1200.0, "p95": 5400.0, "max": 5400.0},
    }
    window = _figures(
        client, timed.gov, **{"from": "2026-11-24T12:00:00Z", "to": "2026-11-24T12:30:00Z"}
    )
    assert window["prov-a"]["ordersReceived"] == 2, "deadlines that started in the window"


def test_who_may_read_the_figures(timed: World, client: TestClient, auth: Auth) -> None:
    timed.create(auth("dave"))
    url = f"{MONITORING}/providerResponseTime"
    assert set(_figures(client, auth("prov-a", "provider"))) == {"prov-a"}, "its own only"
    assert (
        client.get(
            url, params={"provider": "prov-b"}, headers=auth("prov-a", "provider")
        ).status_code
        == 403
    )
    assert client.get(url, headers=auth("dave")).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url, params={"from": "yesterday"}, headers=timed.gov).status_code == 400
    assert client.get(url, params={"colour": "red"}, headers=timed.gov).status_code == 400
    breaches = f"{MONITORING}/responseTimeBreach"
    assert client.get(breaches, params={"state": "ajar"}, headers=timed.gov).status_code == 400
    assert client.get(breaches, params={"limit": "0"}, headers=timed.gov).status_code == 400


def test_metrics_need_governance_unless_public(
    timed: World,
    client: TestClient,
    auth: Auth,
    clock: ManualClock,
    engine: Any,
    settings: Settings,
) -> None:
    timed.create(auth("dave"), order_body("off-a"))
    clock.advance(timedelta(hours=2))
    _fire(client)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth("dave")).status_code == 403
    scraped = client.get("/metrics", headers=timed.gov)
    assert scraped.status_code == 200
    assert 'pss_provider_orders_received_total{provider="prov-a"} 1.0' in scraped.text
    assert 'pss_provider_response_deadline_breaches_total{provider="prov-a"} 1.0' in scraped.text
    assert 'pss_provider_open_past_deadline{provider="prov-a"} 1.0' in scraped.text

    public = settings.model_copy(update={"metrics_public": True})
    with TestClient(build_app(public, engine, clock)) as open_client:
        assert open_client.get("/metrics").status_code == 200


def test_sla_command_prints_the_table(
    timed: World, client: TestClient, auth: Auth, clock: ManualClock, monkeypatch: Any
) -> None:
    from pss_ordering.cli.common import Wiring
    from pss_ordering.cli.main import cli

    timed.create(auth("dave"))
    services = client.app.state.services  # type: ignore[attr-defined]
    url = services.database.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("PSS_DATABASE_URL", url)  # sla refuses a database that is not there
    result = CliRunner().invoke(cli, ["sla"], obj=Wiring(services=lambda _settings: services))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["provider", "received", "on"]
    assert [line.split()[0] for line in lines[1:]] == ["prov-a", "prov-b"]
