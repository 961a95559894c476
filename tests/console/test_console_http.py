"""The console over HTTP, on SQLite and PostgreSQL: sign-in, CSRF, access, stale forms,
and each action going through the API's use cases (checked through the API)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from pss_ordering.api.csp import POLICY
from tests.conftest import Auth
from tests.console.conftest import Console, sign_in
from tests.console.issuer import Issuer
from tests.world import OFFERINGS, ORDERS, World, order_body, provider_ref

Signed = Any  # the ``console`` fixture: (party, *roles) -> Console


def _order(client: TestClient, auth: Auth, order_id: str, who: str = "gov") -> dict[str, Any]:
    roles = ("governance",) if who == "gov" else ("customer",)
    response = client.get(f"{ORDERS}/{order_id}", headers=auth(who, *roles))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _place(dave: Console, *offerings: str, **fields: str) -> str:
    page = dave.get("/orders/new").text
    response = dave.submit(page, "/orders", {"offering": list(offerings), **fields})
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def test_sign_in_is_openid_connect_code_flow_with_pkce(
    world: World, client: TestClient, issuer: Issuer, console: Signed
) -> None:
    """The ID token's sub and roles become the caller, as a bearer token's do."""
    before = len(issuer.verified)
    prov = console("prov-a", "provider")
    assert len(issuer.verified) == before + 1  # the token endpoint checked the verifier
    inbox = prov.http.get("/console/", follow_redirects=True)
    assert inbox.url.path == "/console/inbox"
    assert "Signed in as <strong>prov-a</strong> (provider)" in inbox.text
    cookie = inbox.request.headers.get("cookie", "")
    assert cookie.startswith("pss_console=")


def test_sign_in_refuses_tokens_without_roles_and_forged_state(
    world: World, client: TestClient, issuer: Issuer
) -> None:
    with pytest.raises(AssertionError):
        sign_in(client, issuer, "dave")  # no roles: the callback refuses (401 page)
    browser = TestClient(client.app, base_url="http://pss.test")
    started = browser.get("/console/auth/oidc", follow_redirects=False)
    back = httpx.get(started.headers["location"], follow_redirects=False)
    forged = re.sub(r"state=[^&]+", "state=forged", back.headers["location"])
    refused = browser.get(forged, follow_redirects=False)
    assert refused.status_code == 401
    assert "Signed in as" not in refused.text


def test_every_form_is_refused_without_its_csrf_token(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    """Every POST route of the console (found from the app, so a new one is covered)."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    version = _order(client, auth, order["id"])["state"]
    app = cast(Starlette, client.app)
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/console")
    posts = [r.path for r in mount.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert len(posts) >= 10
    gov = console("gov", "governance")
    for path in posts:
        target = path.replace("{id}", order["id"]).replace("{topic}", "order")
        for token in ({}, {"csrf": "not-the-token"}):
            refused = gov.http.post(
                f"/console{target}", data={**token, "version": "1"}, follow_redirects=False
            )
            assert refused.status_code == 403, (path, refused.text)
    assert _order(client, auth, order["id"])["state"] == version


def test_a_stale_form_says_the_order_changed_meanwhile(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    dave = console("dave", "customer")
    page = dave.get(f"/orders/{order['id']}").text
    first = dave.submit(page, f"/orders/{order['id']}/billing", {"billingAccount": "ba-1"})
    assert first.status_code == 303
    stale = dave.submit(page, f"/orders/{order['id']}/billing", {"billingAccount": "ba-2"})
    assert stale.status_code == 412
    assert "changed meanwhile" in stale.text and "Reload" in stale.text
    assert _order(client, auth, order["id"])["billingAccount"]["id"] == "ba-1"


def test_a_provider_inbox_shows_its_items_only_PSI_03_02_03_02(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    prov_a = console("prov-a", "provider")
    inbox = prov_a.get("/inbox").text
    assert order["id"] in inbox and "off-a" in inbox and "off-b" not in inbox
    page = prov_a.get(f"/orders/{order['id']}").text
    assert "off-a" in page and "off-b" not in page and "prov-b" not in page


def test_another_customers_order_is_not_found_by_url_PSI_03_02_03_02(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("dave"), order_body("off-b"))
    for party, role in (("carol", "customer"), ("prov-a", "provider"), ("pss-x", "pss")):
        other = console(party, role)
        for path in ("/orders/{id}", "/orders/{id}/timeline", "/stamp?order={id}"):
            response = other.get(path.format(id=order["id"]))
            assert response.status_code == 404, (party, path, response.text)
            assert "off-b" not in response.text  # nothing of the order but the id asked for


PAGES = {
    "/catalogue": {"customer": 200, "provider": 200, "governance": 200, "pss": 200},
    "/orders/new": {"customer": 200, "provider": 403, "governance": 403},
    "/orders": {"customer": 200, "provider": 200, "governance": 200, "pss": 200},
    "/inbox": {"customer": 403, "provider": 200, "governance": 403},
    "/figures": {"customer": 403, "provider": 200, "governance": 403},
    "/dashboard": {"customer": 403, "provider": 403, "governance": 200},
    "/breaches": {"customer": 403, "provider": 403, "governance": 200},
    "/callbacks": {"customer": 403, "provider": 200, "governance": 200},
}


@pytest.mark.parametrize("role", ["customer", "provider", "governance", "pss", None])
def test_each_page_for_each_role(
    world: World, client: TestClient, console: Signed, role: str | None
) -> None:
    """Every page for every role, and a stranger (to the sign-in page); pages carry the CSP."""
    who = {"customer": "dave", "provider": "prov-a", "governance": "gov", "pss": "pss-x"}
    if role is None:
        browser = TestClient(client.app, base_url="http://pss.test")
        for path in PAGES:
            stranger = browser.get(f"/console{path}", follow_redirects=False)
            assert stranger.status_code == 303 and stranger.headers["location"] == "/console/login"
        return
    signed = console(who[role], role)
    for path, statuses in PAGES.items():
        response = signed.get(path)
        assert response.status_code == statuses.get(role, 403), (path, response.text)
        assert response.headers["content-security-policy"] == POLICY
        assert "<script>" not in response.text and " on" + "click=" not in response.text


def test_order_form_checks_fields_and_shows_api_errors_at_the_field(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    offering = {
        "id": "off-imei",
        "name": "With IMEI",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("prov-a")],
        "prodSpecCharValueUse": [
            {"name": "IMEI", "valueType": "string", "minCardinality": 1},
            {"name": "Count", "valueType": "integer", "minCardinality": 0},
        ],
    }
    assert client.post(OFFERINGS, json=offering, headers=auth("prov-a", "provider")).is_success
    dave = console("dave", "customer")
    page = dave.get("/orders/new").text
    assert 'id="char.off-imei.IMEI"' in page and 'data-required="true"' in page
    missing = dave.submit(page, "/orders", {"offering": "off-imei", "char.off-imei.Count": "x"})
    assert missing.status_code == 422
    assert 'id="err-char.off-imei.IMEI"' in missing.text
    assert "Count must be a number" in missing.text
    refused = dave.submit(
        page, "/orders", {"offering": "off-a", "billingAccount": "b" * 65}
    )  # the API's bound on ids, shown at the billing account field
    assert refused.status_code == 400
    assert 'id="err-billingAccount"' in refused.text
    listed = client.get(ORDERS, headers=auth("dave")).json()
    assert listed == []


def test_customer_journey_through_the_console_PSI_03_02_01_01_PSI_03_02_02_01(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    """Order, a provider asks for information, the customer supplies it, cancel, replace."""
    dave = console("dave", "customer")
    order_id = _place(dave, "off-a", "off-b", description="Pier")
    assert [
        i["productOffering"]["id"] for i in _order(client, auth, order_id)["productOrderItem"]
    ] == [
        "off-a",
        "off-b",
    ]
    prov_a = console("prov-a", "provider")
    page = prov_a.get(f"/orders/{order_id}").text
    asked = prov_a.submit(
        page, f"/orders/{order_id}/item", {"action": "ask", "characteristic": "Site"}, index=2
    )
    assert asked.status_code == 303, asked.text
    page = dave.get(f"/orders/{order_id}").text
    assert "Information required" in page
    supplied = dave.submit(page, f"/orders/{order_id}/supply", {"value": "Pier 4"})
    assert supplied.status_code == 303, supplied.text
    doc = _order(client, auth, order_id)
    assert "productOrderErrorMessage" not in doc
    assert doc["productOrderItem"][0]["product"]["productCharacteristic"] == [
        {"name": "Site", "value": "Pier 4"}
    ]
    timeline = dave.get(f"/orders/{order_id}/timeline").text
    assert "ProductOrderInformationRequiredEvent" in timeline
    form = dave.get(f"/orders/new?replaces={order_id}").text
    assert f'name="replaces" value="{order_id}"' in form
    replacement = dave.submit(form, "/orders", {"offering": ["off-a"]})
    assert replacement.status_code == 303, replacement.text
    page = dave.get(f"/orders/{order_id}").text
    cancelled = dave.submit(page, f"/orders/{order_id}/cancel", {"reason": "not needed"})
    assert cancelled.status_code == 303
    assert _order(client, auth, order_id)["state"] == "cancelled"


def test_provider_moves_rejects_with_reason_and_notes(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    prov_a, prov_b = console("prov-a", "provider"), console("prov-b", "provider")
    page = prov_a.get(f"/orders/{order['id']}").text
    assert prov_a.submit(page, f"/orders/{order['id']}/item").status_code == 303  # acknowledge
    page = prov_a.get(f"/orders/{order['id']}").text
    noted = prov_a.submit(page, f"/orders/{order['id']}/note", {"text": "crew booked"})
    assert noted.status_code == 303
    page = prov_b.get(f"/orders/{order['id']}").text
    unexplained = prov_b.submit(page, f"/orders/{order['id']}/item", {"state": "rejected"}, index=1)
    assert unexplained.status_code == 422, unexplained.text
    assert "give a reason" in unexplained.text, unexplained.text[
        unexplained.text.find("<h2>Your items") :
    ]
    rejected = prov_b.submit(
        page, f"/orders/{order['id']}/item", {"state": "rejected", "reason": "no coverage"}, index=1
    )
    assert rejected.status_code == 303, rejected.text
    doc = _order(client, auth, order["id"])
    assert doc["state"] == "rejected"
    assert [n["text"] for n in doc["note"]] == ["crew booked"]
    assert any(m["message"] == "no coverage" for m in doc["productOrderErrorMessage"])
    assert "crew booked" not in prov_b.get(f"/orders/{order['id']}").text  # prov-a's note


def test_governance_figures_response_time_and_read_only_orders(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    gov = console("gov", "governance")
    page = gov.get(f"/orders/{order['id']}").text
    assert order["id"] in page and "/item" not in page and "/cancel" not in page
    board = gov.get("/dashboard").text
    assert 'data-provider="prov-a"' in board and "<svg" in board
    refused = gov.submit(board, "/providers/prov-a/response-time", {"responseTime": "soon"})
    assert refused.status_code == 303
    assert "must be an ISO-8601 duration" in gov.get("/dashboard").text
    accepted = gov.submit(board, "/providers/prov-a/response-time", {"responseTime": "PT2H"})
    assert accepted.status_code == 303
    party = client.get("/psi-api/partyManagement/v2/organization/prov-a", headers=world.gov).json()
    assert {"name": "responseTime", "value": "PT2H"}.items() <= next(
        c for c in party["partyCharacteristic"] if c["name"] == "responseTime"
    ).items()


def test_the_stamp_follows_the_order_and_the_event_log(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    """What an open page polls to refresh itself changes when the order changes."""
    order = world.create(auth("dave"), order_body("off-a"))
    prov_a = console("prov-a", "provider")
    before = prov_a.get(f"/stamp?order={order['id']}").json()["stamp"]
    inbox_before = prov_a.get("/stamp").json()["stamp"]
    client.patch(
        f"{ORDERS}/{order['id']}",
        json={"state": "acknowledged"},
        headers={**auth("prov-a", "provider"), "Content-Type": "application/merge-patch+json"},
    )
    assert prov_a.get(f"/stamp?order={order['id']}").json()["stamp"] != before
    assert prov_a.get("/stamp").json()["stamp"] != inbox_before
    # Need-to-know: nothing another party can see moves the stamp of those who cannot.
    prov_b, dave = console("prov-b", "provider"), console("dave", "customer")
    quiet = prov_b.get("/stamp").json()["stamp"], dave.get("/stamp").json()["stamp"]
    told = prov_a.get("/stamp").json()["stamp"]
    world.create(auth("carol"), order_body("off-a"))
    assert (prov_b.get("/stamp").json()["stamp"], dave.get("/stamp").json()["stamp"]) == quiet
    assert prov_a.get("/stamp").json()["stamp"] != told  # prov-a has an item in it


def test_docs_page_is_served_from_the_package_under_the_csp(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.headers["content-security-policy"] == POLICY
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts and all(src.startswith("/docs/") for src in scripts)
    assert "<script>" not in page.text
    for src in [*scripts, *re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)]:
        assert client.get(src).status_code == 200, src


def test_hostile_requests_get_an_error_page_and_change_nothing(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    dave = console("dave", "customer")
    page = dave.get("/orders/new").text
    token = dave.form(page, "/orders")["csrf"]
    cases: list[tuple[dict[str, Any], int]] = [
        ({"content": b"x=1", "headers": {"Content-Type": "application/json"}}, 415),
        ({"data": {"csrf": token, "description": "d" * 70_000, "offering": "off-a"}}, 413),
        ({"data": {"csrf": token, "offering": "off-a", "description": "x" * 10_001}}, 422),
    ]
    for kwargs, status in cases:
        response = dave.http.post("/console/orders", follow_redirects=False, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["content-security-policy"] == POLICY
    for path in (f"/stamp?order={'x' * 65}", f"/orders/new?replaces={'x' * 65}", "/orders?page=x"):
        assert dave.get(path).status_code in (200, 400), path
    assert dave.get(f"/orders/{'x' * 65}").status_code == 400
    assert client.get(ORDERS, headers=auth("dave")).json() == []


def test_an_organisation_lists_its_members_orders_PSI_03_02_01_04_PSI_03_02_04_01(
    world: World, client: TestClient, auth: Auth, console: Signed
) -> None:
    order = world.create(auth("carol"), order_body("off-a"))
    org = console("org-c", "customer")
    assert order["id"] in org.get("/orders").text
    assert org.get(f"/orders/{order['id']}").status_code == 200
    assert order["id"] not in console("dave", "customer").get("/orders").text


@contextmanager
def _another_app(client: TestClient, settings: Any, **changes: Any) -> Iterator[TestClient]:
    """The application with other settings, on the same database (its lifespan run)."""
    from pss_ordering.bootstrap import build_app

    services = client.app.state.services  # type: ignore[attr-defined]
    app = build_app(settings.model_copy(update=changes), services.database.engine, services.clock)
    with TestClient(app, base_url=changes.get("base_url", "http://pss.test")) as browser:
        yield browser


def test_session_cookie_is_httponly_samesite_and_secure_over_https(
    world: World, client: TestClient, settings: Any
) -> None:
    for base_url, secure in (("http://pss.test", False), ("https://pss.test", True)):
        with _another_app(client, settings, base_url=base_url) as browser:
            started = browser.get("/console/auth/oidc", follow_redirects=False)
        cookie = started.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
        assert ("secure" in cookie) is secure
        redirect_uri = httpx.URL(started.headers["location"]).params["redirect_uri"]
        assert redirect_uri == base_url + "/console/auth/callback"


@pytest.mark.parametrize("demo", [True, False])
def test_demo_sign_in_offers_the_demo_parties_only_with_demo(
    client: TestClient, settings: Any, demo: bool
) -> None:
    with _another_app(client, settings, console_demo=demo) as browser:
        page = browser.get("/console/login").text
        assert ("Alice Doe (customer)" in page) is demo
        tokens = re.findall(r'name="csrf" value="([^"]+)"', page)
        assert bool(tokens) is demo  # without demo there is no picker form
        chosen = browser.post(
            "/console/login",
            data={"csrf": tokens[0] if tokens else "x", "identity": "acme-satcom|provider"},
            follow_redirects=False,
        )
        if not demo:
            assert chosen.status_code == 403
            assert "Signed in as" not in browser.get("/console/login").text
            return
        assert chosen.status_code == 303
        inbox = browser.get("/console/inbox").text
        assert "Signed in as <strong>acme-satcom</strong>" in inbox
        token = re.findall(r'name="csrf" value="([^"]+)"', inbox)[0]
        forged = browser.post(
            "/console/login",
            data={"csrf": token, "identity": "governance|customer"},
            follow_redirects=False,
        )
        assert forged.status_code == 400  # not one of the demo identities
