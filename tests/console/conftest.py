"""Console tests over HTTP (Starlette's TestClient): each party signs in through the
console's real OpenID Connect flow against a local issuer (``issuer.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import BASE_URL
from tests.console.issuer import CLIENT_ID, Issuer, running_issuer

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture
def settings(settings: Settings, issuer: Issuer) -> Settings:
    return settings.model_copy(update={"oidc_issuer": issuer.url, "oidc_client_id": CLIENT_ID})


@dataclass
class Console:
    """One signed-in browser, without the browser: pages, and forms posted as a
    browser would post them (with the hidden fields the page rendered)."""

    http: TestClient

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"/console{path}", follow_redirects=False)

    def form(self, page: str, action: str, index: int = 0) -> dict[str, str]:
        """The hidden fields of the ``index``-th form posting to ``action`` on ``page``."""
        forms = re.findall(
            rf'<form method="post" action="/console{re.escape(action)}"[^>]*>(.*?)</form>',
            page,
            re.S,
        )
        assert len(forms) > index, f"no form to {action} on the page"
        return dict(HIDDEN.findall(forms[index]))

    def submit(
        self, page: str, action: str, data: dict[str, Any] | None = None, index: int = 0
    ) -> httpx.Response:
        fields = {**self.form(page, action, index), **(data or {})}
        return self.http.post(f"/console{action}", data=fields, follow_redirects=False)


def sign_in(client: TestClient, issuer: Issuer, party: str, *roles: str) -> Console:
    """The OpenID Connect round trip: console -> issuer -> console callback."""
    browser = TestClient(client.app, base_url=BASE_URL)
    issuer.user = (party, roles)
    started = browser.get("/console/auth/oidc", follow_redirects=False)
    assert started.status_code == 302, started.text
    back = httpx.get(started.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    done = browser.get(back.headers["location"], follow_redirects=False)
    assert done.status_code == 303, done.text
    return Console(browser)


@pytest.fixture
def console(client: TestClient, issuer: Issuer) -> Any:
    """``console("dave", "customer")`` -> a signed-in :class:`Console`."""

    def signed_in(party: str, *roles: str) -> Console:
        return sign_in(client, issuer, party, *(roles or ("customer",)))

    return signed_in
