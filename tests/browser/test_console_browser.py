"""The console in a real browser (chromium via Playwright) against ``serve --demo``:
the journey of issue 14, access, the stale-form message, CSRF refusal, /docs, and
axe-core on every main page (at desktop and phone width, with screenshots)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, check_accessibility, screenshot, sign_in
from tests.served import Served

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ALICE, ACME, ORBIT, GOV = "Alice Doe (customer)", "ACME SatCom", "Orbit Links", "PSS governance"


def _api(served: Served, method: str, path: str, token: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        served.url(path),
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def _mark(page: Page) -> None:
    """A marker a full page load would wipe out: present afterwards = refreshed in place."""
    page.evaluate("window.__stillHere = true")


def _not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__stillHere === true"), "the page was reloaded"


def _open_order_from_inbox(page: Page, order_id: str) -> None:
    page.locator("#waiting").get_by_role("link").first.click()
    page.wait_for_url(f"**/console/orders/{order_id}")


def test_journey_two_providers_information_required_completion_figures(
    served: Served, contexts: Any
) -> None:
    """Issue 14's journey: a customer orders from two providers; each provider sees its
    own item only and acknowledges; one asks for information, the customer supplies
    it; the order completes; governance's figures change; pages refresh by themselves."""
    gov = contexts()
    sign_in(gov, served, GOV)
    expect(gov.get_by_role("heading", name="Provider response times")).to_be_visible()
    check_accessibility(gov)
    _mark(gov)

    alice = contexts()
    sign_in(alice, served, ALICE)
    alice.get_by_role("link", name="New order").first.click()
    alice.get_by_role("checkbox", name="LEO broadband 50 Mbit/s").check()
    alice.get_by_role("checkbox", name="GEO backup link").check()
    alice.get_by_label("IMEI for LEO broadband 50 Mbit/s").fill("490154203237518")
    alice.get_by_label("Description (optional)").fill("Harbour connectivity")
    check_accessibility(alice)
    screenshot(alice, "customer-new-order")
    alice.get_by_role("button", name="Place order").click()
    expect(alice.locator(".flash")).to_have_text("Order placed.")
    order_id = alice.url.rsplit("/", 1)[1]
    expect(alice.locator("#order-state")).to_have_text("pending")
    check_accessibility(alice)
    _mark(alice)

    acme = contexts()
    sign_in(acme, served, ACME)
    expect(acme.get_by_role("heading", name="Inbox")).to_be_visible()
    waiting = acme.locator("#waiting")
    expect(waiting).to_contain_text("leo-broadband")
    expect(waiting).not_to_contain_text("geo-backup")  # the other provider's item
    check_accessibility(acme)
    screenshot(acme, "provider-inbox")
    _open_order_from_inbox(acme, order_id)
    expect(acme.locator("#items")).not_to_contain_text("geo-backup")
    check_accessibility(acme)
    acme.get_by_role("button", name=re.compile("Acknowledge item")).click()
    expect(acme.locator(".flash")).to_contain_text("acknowledged.")

    orbit = contexts(PHONE)  # a provider on a phone
    sign_in(orbit, served, ORBIT)
    expect(orbit.locator("#waiting")).to_contain_text("geo-backup")
    expect(orbit.locator("#waiting")).not_to_contain_text("leo-broadband")
    check_accessibility(orbit)
    _open_order_from_inbox(orbit, order_id)
    orbit.get_by_role("button", name=re.compile("Acknowledge item")).click()
    orbit.get_by_label(re.compile("Information needed for item")).fill("Site")
    orbit.get_by_label("Explanation for the customer").fill("Which pier?")
    orbit.get_by_role("button", name="Ask the customer").click()
    expect(orbit.locator(".flash")).to_have_text("Asked the customer for Site.")
    _mark(orbit)

    # Alice's open order page shows the question by itself.
    supply = alice.get_by_label(re.compile("Site for item"))
    expect(supply).to_be_visible()
    _not_reloaded(alice)
    check_accessibility(alice)
    screenshot(alice, "customer-order")
    supply.fill("Pier 4")
    alice.get_by_role("button", name="Supply Site").click()
    expect(alice.locator(".flash")).to_have_text("Site supplied.")
    _mark(alice)

    # Orbit's open order page shows the item back without a reload; both complete.
    expect(orbit.locator("#items")).to_contain_text("Pier 4")
    _not_reloaded(orbit)
    for page in (orbit, acme):
        page.reload()  # acme's page may still show the version before orbit's changes
        page.get_by_label(re.compile(r"Move item \d+ to")).select_option("completed")
        page.get_by_role("button", name=re.compile(r"^Move item")).click()
        expect(page.locator(".flash")).to_contain_text("completed.")

    expect(alice.locator("#order-state")).to_have_text("completed")
    _not_reloaded(alice)
    alice.get_by_role("link", name="Timeline of this order").click()
    expect(alice.locator(".timeline")).to_contain_text("ProductOrderInformationRequiredEvent")
    check_accessibility(alice)
    alice.get_by_role("link", name="My orders").click()
    check_accessibility(alice)
    screenshot(alice, "customer-orders")

    # Governance's dashboard, open all along, counted both acknowledgements.
    for provider in ("acme-satcom", "orbit-links"):
        row = gov.locator(f'tr[data-provider="{provider}"]')
        expect(row.locator(".received")).to_have_text("1")
        expect(row.locator(".on-time")).to_have_text("1")
    _not_reloaded(gov)
    check_accessibility(gov)
    screenshot(gov, "governance-dashboard")
    gov.get_by_role("link", name="Breaches").click()
    check_accessibility(gov)
    gov.get_by_role("link", name="Callbacks").click()
    check_accessibility(gov)
    gov.goto(served.url(f"/console/orders/{order_id}"))
    expect(gov.locator("#order-state")).to_have_text("completed")
    expect(gov.get_by_role("button")).to_have_count(1)  # sign out only: read-only
    for page in (gov, alice, acme, orbit):
        assert page.csp_violations == []


def _sign_in_with_the_keyboard(page: Page, served: Served) -> None:
    """Skip link, links, the party picker (Alice is first) and its button: Tab and Enter."""
    page.goto(served.url("/console/login"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(10):  # past the header's links
        if page.evaluate("document.activeElement.type") == "radio":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "alice|customer"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()


def test_access_by_url_and_inbox(served: Served, contexts: Any) -> None:
    """A customer cannot open another customer's order by URL; a provider neither
    sees nor opens an order without its items."""
    gov_token = served.token("governance", "governance")
    _api(
        served,
        "POST",
        "/psi-api/partyManagement/v2/individual",
        gov_token,
        {"id": "zed", "givenName": "Zed", "familyName": "Z"},
    )
    other = _api(
        served,
        "POST",
        "/psi-api/productOrdering/v2/productOrder",
        served.token("zed", "customer"),
        {
            "productOrderItem": [
                {"id": "1", "action": "add", "productOffering": {"id": "geo-backup"}}
            ]
        },
    )
    alice = contexts()
    _sign_in_with_the_keyboard(alice, served)
    alice.goto(served.url(f"/console/orders/{other['id']}"))
    expect(alice.get_by_role("heading", name="Not found")).to_be_visible()
    expect(alice.locator("main")).not_to_contain_text("geo-backup")
    check_accessibility(alice)
    acme = contexts()
    sign_in(acme, served, ACME)
    expect(acme.locator("main")).not_to_contain_text(other["id"])
    acme.goto(served.url(f"/console/orders/{other['id']}"))
    expect(acme.get_by_role("heading", name="Not found")).to_be_visible()


def test_a_stale_form_is_refused_with_changed_meanwhile(served: Served, contexts: Any) -> None:
    """Two tabs on one order: the second, edited while the first changed the order,
    is refused with the message (and nothing of it is applied)."""
    alice = contexts()
    sign_in(alice, served, ALICE)
    alice.goto(served.url("/console/orders/new?offering=geo-backup"))
    alice.get_by_role("button", name="Place order").click()
    order_url = alice.url
    first, second = contexts(), contexts()
    for tab in (first, second):
        sign_in(tab, served, ORBIT)
        tab.goto(order_url)
    second.get_by_label("Add a note").fill("stale note")  # typing: no live refresh now
    first.get_by_role("button", name="Acknowledge item 1").click()
    expect(first.locator(".flash")).to_have_text("Item 1: acknowledged.")
    second.get_by_role("button", name="Add note").click()
    expect(second.locator("#order-error")).to_contain_text("changed meanwhile")
    check_accessibility(second)
    second.get_by_role("link", name="Reload the order").click()
    expect(second.locator("main")).not_to_contain_text("stale note")


def test_a_form_with_a_forged_csrf_token_is_refused(served: Served, contexts: Any) -> None:
    alice = contexts()
    sign_in(alice, served, ALICE)
    alice.goto(served.url("/console/orders/new?offering=geo-backup"))
    alice.evaluate(
        "document.querySelectorAll('input[name=csrf]').forEach(i => { i.value = 'forged'; })"
    )
    alice.get_by_role("button", name="Place order").click()
    expect(alice.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(alice.get_by_role("alert")).to_contain_text("security token")
    alice.goto(served.url("/console/orders"))
    expect(alice.locator("main")).to_contain_text("No orders.")


def test_docs_page_lists_the_operations_offline(served: Served, contexts: Any) -> None:
    """Swagger UI from the package, under the CSP, renders the served contract."""
    page = contexts()
    page.goto(served.url("/docs"))
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator("#ui")).to_contain_text("/productOrder")
    assert page.locator(".opblock").count() >= 5
    assert page.csp_violations == []
