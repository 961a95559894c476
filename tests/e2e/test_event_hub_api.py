"""Event Management API: topics and callback registrations (PSID688).

PSI-01-02-01-01/-02 (topics), PSI-01-02-02-01 (register), PSI-01-02-02-02
(filter queries, refused at registration when malformed), PSI-01-02-02-03
(unknown hosts refused), PSI-01-02-04-01 (unregister).
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth

BASES = ("/psi-api/event/v2", "/psi-api/eventManagement/v2")
CALLBACK = "http://127.0.0.1:9999/listener"


@pytest.mark.parametrize("base", BASES)
def test_topics_PSI_01_02_01_01_and_02(client: TestClient, auth: Auth, base: str) -> None:
    response = client.get(f"{base}/topic", headers=auth("dave"))
    assert response.status_code == 200
    assert {t["id"] for t in response.json()} >= {"order", "inquiry", "alarm"}
    assert response.headers["x-total-count"] == "3"


@pytest.mark.parametrize("base", BASES)
def test_register_list_unregister_PSI_01_02_02_01_and_04_01(
    client: TestClient, auth: Auth, base: str
) -> None:
    dave = auth("dave")
    created = client.post(
        f"{base}/topic/order/hub",
        json={"callback": CALLBACK, "query": "eventType=orderStateChangeNotification"},
        headers=dave,
    )
    assert created.status_code == 201, created.text
    hub = created.json()
    assert hub["callback"] == CALLBACK
    assert hub["secret"].startswith("whsec_")
    assert created.headers["location"] == hub["href"]
    again = client.post(
        f"{base}/topic/order/hub",
        json={"callback": CALLBACK, "query": "eventType=orderStateChangeNotification"},
        headers=dave,
    )
    assert again.status_code == 200
    assert again.json()["id"] == hub["id"]
    assert "secret" not in again.json(), "the secret is shown once, at creation"
    listed = client.get(f"{base}/topic/order/hub", headers=dave).json()
    assert [h["id"] for h in listed] == [hub["id"]]
    assert client.get(f"{base}/topic/order/hub", headers=auth("erin")).json() == []
    governance = client.get(f"{base}/topic/order/hub", headers=auth("gov", "governance"))
    assert [h["id"] for h in governance.json()] == [hub["id"]]
    foreign = client.delete(f"{base}/topic/order/hub/{hub['id']}", headers=auth("erin"))
    assert foreign.status_code == 404
    assert client.delete(f"{base}/topic/order/hub/{hub['id']}", headers=dave).status_code == 204
    assert client.get(f"{base}/topic/order/hub", headers=dave).json() == []


@pytest.mark.parametrize(
    "callback",
    [
        "http://evil.example/listener",
        "http://127.0.0.1:9998/listener",
        "ftp://127.0.0.1:9999/x",
        "not a url",
    ],
)
def test_unknown_hosts_refused_PSI_01_02_02_03(
    client: TestClient, auth: Auth, callback: str
) -> None:
    response = client.post(
        "/psi-api/event/v2/topic/order/hub", json={"callback": callback}, headers=auth("dave")
    )
    assert response.status_code in (400, 422), response.text
    assert client.get("/psi-api/event/v2/topic/order/hub", headers=auth("dave")).json() == []


def test_allowed_host_by_name(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/psi-api/event/v2/topic/order/hub",
        json={"callback": "https://receiver.test/pss"},
        headers=auth("dave"),
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("query", ["eventType", "a..b=1", "=x", "a=1&&b=2", "a b=1"])
def test_malformed_query_refused_at_registration_PSI_01_02_02_02(
    client: TestClient, auth: Auth, query: str
) -> None:
    response = client.post(
        "/psi-api/event/v2/topic/order/hub",
        json={"callback": CALLBACK, "query": query},
        headers=auth("dave"),
    )
    assert response.status_code == 422, response.text
    assert "query" in response.json()["message"]


def test_unknown_topic_and_alarm_topic_rules(client: TestClient, auth: Auth) -> None:
    missing = client.post(
        "/psi-api/event/v2/topic/weather/hub", json={"callback": CALLBACK}, headers=auth("dave")
    )
    assert missing.status_code == 404
    customer_alarm = client.post(
        "/psi-api/event/v2/topic/alarm/hub", json={"callback": CALLBACK}, headers=auth("dave")
    )
    assert customer_alarm.status_code == 403
    gov_alarm = client.post(
        "/psi-api/event/v2/topic/alarm/hub",
        json={"callback": CALLBACK},
        headers=auth("gov", "governance"),
    )
    assert gov_alarm.status_code == 201


def test_bad_bodies(client: TestClient, auth: Auth) -> None:
    url = "/psi-api/event/v2/topic/order/hub"
    assert client.post(url, json={}, headers=auth("dave")).status_code == 400
    assert client.post(url, json={"callback": 5}, headers=auth("dave")).status_code == 400
    unknown = client.post(url, json={"callback": CALLBACK, "x": 1}, headers=auth("dave"))
    assert unknown.status_code == 400
    assert client.post(url, json={"callback": CALLBACK}).status_code == 401


def test_health_and_resume_answer_only_the_owner_and_governance_PSI_01_02_03_07(
    client: TestClient, auth: Auth
) -> None:
    """A new callback reads as active with nothing pending; bad requests change nothing."""
    dave = auth("dave")
    hub = client.post(
        "/psi-api/event/v2/topic/order/hub", json={"callback": CALLBACK}, headers=dave
    ).json()
    url = f"/psi-api/event/v2/topic/order/hub/{hub['id']}"
    health = client.get(url, headers=dave)
    assert health.status_code == 200
    assert health.json() | {"href": None} == {
        "id": hub["id"],
        "href": None,
        "callback": CALLBACK,
        "@type": "HubSubscription",
        "state": "active",
        "pendingCount": 0,
        "deliveredCount": 0,
        "consecutiveFailures": 0,
    }
    assert "secret" not in health.json()
    assert client.get(url, headers=auth("gov", "governance")).status_code == 200
    assert client.get(url, headers=auth("erin")).status_code == 404
    assert client.get(url).status_code == 401
    assert client.post(f"{url}/resume").status_code == 401
    assert client.post(f"{url}/resume", headers=auth("erin")).status_code == 404
    wrong_topic = f"/psi-api/event/v2/topic/alarm/hub/{hub['id']}"
    assert client.get(wrong_topic, headers=dave).status_code == 404
    assert client.get(f"{url}?colour=red", headers=dave).status_code == 400
    assert client.get("/psi-api/event/v2/topic/order/hub/nope", headers=dave).status_code == 404
    assert client.post(f"{url}/resume", headers=dave).json()["state"] == "active"
