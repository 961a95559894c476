"""A broker PSS imports a partner PSS's catalogue (issue 13, part 2: catalogue).

The partner B is a real ``serve`` process on loopback; the broker A runs in
process on both databases. Governance pairs them at A (B: an organisation with
``responseTime`` and ``partnerApiUrl``; the operator's per-host credentials for
B's host). A pulls B's PSID620 offerings: they become orderable offerings of
provider B at A, with an externalIdentifier owned by B, never shown to another
PSS, and retired at A once B withdraws them. Requirement texts followed:
PSI-01-01-02-08 (governance sets a provider's response time), PSI-03-02-01-01.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_services, partner_sync
from pss_ordering.clock import ManualClock
from pss_ordering.config import CallbackAuth, Settings
from pss_ordering.events.partners import PullFailed
from pss_ordering.service.catalogue import Imported
from tests.conftest import Auth
from tests.served import Served, free_port, serve
from tests.world import OFFERINGS, ORDERS, PARTIES, order_body, provider_ref

PARTNER = "pss-b"
#: B accepts A's intake (the in-process A's base URL) as a callback host.
B_ENV = {"PSS_CALLBACK_ALLOWED_HOSTS": "pss.test:80"}


def _call(served: Served, method: str, path: str, who: str, *roles: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        served.url(path),
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {served.token(who, *roles)}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def _offering(offering_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": offering_id,
        "name": f"B's {offering_id}",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("prov-p")],
        **extra,
    }


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """B, with provider P's offerings (one that B itself brokers from elsewhere)."""
    with serve(tmp_path_factory.mktemp("partner-b"), env=B_ENV) as b:
        for offering in (
            _offering("lift"),
            _offering("crane", description="a crane"),
            _offering(
                "resold",
                externalIdentifier=[{"id": "x", "owner": "prov-p"}],  # brokered at B
            ),
        ):
            _call(b, "POST", OFFERINGS, "prov-p", "provider", body=offering)
        yield b


def _pair(client: TestClient, auth: Auth, url: str) -> None:
    """Governance at A: B is a provider organisation (response time) and a partner PSS."""
    body = {
        "id": PARTNER,
        "name": "Partner PSS B",
        "partyCharacteristic": [
            {"name": "responseTime", "value": "PT2H", "valueType": "string"},
            {"name": "partnerApiUrl", "value": url, "valueType": "string"},
        ],
    }
    response = client.post(f"{PARTIES}/organization", json=body, headers=auth("gov", "governance"))
    assert response.status_code == 201, response.text


def _refresh(
    engine: Engine, settings: Settings, clock: ManualClock, partner: Served
) -> list[Imported | PullFailed]:
    """The import A's command and periodic refresh run, with A's credentials at B."""
    token = partner.token("pss-a", "pss")
    host = f"127.0.0.1:{partner.port}"
    with_auth = settings.model_copy(
        update={
            "callback_auth": {host: CallbackAuth(type="bearer", token=token)},
            "callback_allowed_hosts": [*settings.callback_allowed_hosts, host],
        }
    )
    services = build_services(with_auth, engine, clock)
    try:
        return asyncio.run(partner_sync(services))
    finally:
        services.executor.close()


def test_partner_offerings_are_imported_brokered_and_orderable_PSI_03_02_01_01(
    client: TestClient,
    auth: Auth,
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    partner: Served,
) -> None:
    _pair(client, auth, partner.url(""))
    [result] = _refresh(engine, settings, clock, partner)
    assert result == Imported(PARTNER, added=2, updated=0, retired=0)
    lift = client.get(f"{OFFERINGS}/{PARTNER}.lift", headers=auth("carol")).json()
    assert lift["relatedParty"] == [provider_ref(PARTNER)]
    assert lift["externalIdentifier"] == [
        {
            "@type": "ExternalIdentifier",
            "id": "lift",
            "owner": PARTNER,
            "externalIdentifierType": "ProductOffering",
        }
    ]
    assert lift["href"].endswith(f"{OFFERINGS}/{PARTNER}.lift")
    # what B brokers itself is not B's to resell: it never reaches A
    listed = client.get(OFFERINGS, headers=auth("carol")).json()
    assert sorted(o["id"] for o in listed) == [f"{PARTNER}.crane", f"{PARTNER}.lift"]
    # C orders it at A: an item of provider B
    created = client.post(ORDERS, json=order_body(f"{PARTNER}.lift"), headers=auth("carol"))
    assert created.status_code == 201, created.text
    seen = client.get(f"{ORDERS}/{created.json()['id']}", headers=auth(PARTNER, "provider"))
    assert seen.status_code == 200
    # unchanged at B: a second refresh changes nothing
    assert _refresh(engine, settings, clock, partner) == [Imported(PARTNER, 0, 0, 0)]


def test_brokered_offerings_are_never_re_exported_to_another_pss(
    client: TestClient,
    auth: Auth,
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    partner: Served,
) -> None:
    """A third PSS reading A's catalogue sees none of B's offerings (no loops); the
    customer, the provider B and governance do."""
    _pair(client, auth, partner.url(""))
    _refresh(engine, settings, clock, partner)
    third = auth("pss-c", "pss")
    assert client.get(OFFERINGS, headers=third).json() == []
    assert client.get(f"{OFFERINGS}/{PARTNER}.lift", headers=third).status_code == 404
    for who in (auth("carol"), auth(PARTNER, "provider"), auth("gov", "governance")):
        assert len(client.get(OFFERINGS, headers=who).json()) == 2


def test_an_offering_withdrawn_at_the_partner_is_not_orderable_at_the_broker(
    client: TestClient,
    auth: Auth,
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    partner: Served,
    request: pytest.FixtureRequest,
) -> None:
    """B withdraws an offering: at A's next sync it is retired, no longer orderable."""
    gone = f"gone-{request.node.callspec.id}"  # B is shared: an offering of this test's own
    _call(partner, "POST", OFFERINGS, "prov-p", "provider", body=_offering(gone))
    _pair(client, auth, partner.url(""))
    assert _refresh(engine, settings, clock, partner) == [Imported(PARTNER, 3, 0, 0)]
    _call(partner, "DELETE", f"{OFFERINGS}/{gone}", "prov-p", "provider")
    assert _refresh(engine, settings, clock, partner) == [Imported(PARTNER, 0, 0, 1)]
    withdrawn = client.get(f"{OFFERINGS}/{PARTNER}.{gone}", headers=auth("carol")).json()
    assert withdrawn["lifecycleStatus"] == "retired"
    refused = client.post(ORDERS, json=order_body(f"{PARTNER}.{gone}"), headers=auth("carol"))
    assert refused.status_code == 422, refused.text
    assert "not orderable" in refused.json()["message"]
    ordered = client.post(ORDERS, json=order_body(f"{PARTNER}.lift"), headers=auth("carol"))
    assert ordered.status_code == 201, ordered.text


def test_an_unreachable_partner_keeps_its_offerings_as_they_were(
    client: TestClient,
    auth: Auth,
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    partner: Served,
) -> None:
    _pair(client, auth, partner.url(""))
    _refresh(engine, settings, clock, partner)
    before = client.get(OFFERINGS, headers=auth("carol")).json()
    gone = f"http://127.0.0.1:{free_port()}"
    response = client.patch(
        f"{PARTIES}/organization/{PARTNER}",
        json={"partyCharacteristic": [{"name": "partnerApiUrl", "value": gone}]},
        headers={**auth("gov", "governance"), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    [failed] = _refresh(engine, settings, clock, partner)
    assert isinstance(failed, PullFailed)
    assert client.get(OFFERINGS, headers=auth("carol")).json() == before


@pytest.mark.parametrize(
    "value", ["ftp://b.example", "b.example", "http://", "http://[::1", "https://b/x?y=1"]
)
def test_only_governance_pairs_a_partner_and_only_with_a_url(
    client: TestClient, auth: Auth, value: str
) -> None:
    """partnerApiUrl is governed like responseTime (PSI-01-01-02-08) and must be an
    absolute http(s) base URL."""
    characteristic = [{"name": "partnerApiUrl", "value": value}]
    refused = client.post(
        f"{PARTIES}/organization",
        json={"id": "pss-z", "name": "Z", "partyCharacteristic": characteristic},
        headers=auth("gov", "governance"),
    )
    assert refused.status_code == 422, refused.text
    assert "partnerApiUrl" in refused.json()["message"]
    own = client.post(
        f"{PARTIES}/organization",
        json={
            "id": "pss-z",
            "name": "Z",
            "partyCharacteristic": [{"name": "partnerApiUrl", "value": "https://z.example"}],
        },
        headers=auth("pss-z", "pss"),
    )
    assert own.status_code == 403, own.text
