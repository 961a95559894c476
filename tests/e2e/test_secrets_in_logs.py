"""No secret ever reaches a log (issue 15): a whole journey with every logger at DEBUG
(SQLAlchemy's statements and parameters included), then the captured output is
searched for every secret the journey used.

The journey: callbacks registered (their signing secrets), one host reached with
OAuth 2.0 client credentials (client secret, and the access token it gets), one
with basic auth (password); an order created by the customer and acknowledged by
the provider (their bearer tokens, signed with the JWT secret); a bad token
refused; the events delivered, one callback failing first.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from pss_ordering import logs
from pss_ordering.api.auth import mint_token
from pss_ordering.config import CallbackAuth, Settings
from pss_ordering.logs import MASK, Redacting
from tests.conftest import SECRET
from tests.delivery import Deliver, hub_settings, subscribe
from tests.e2e.test_delivery_auth import token_answer
from tests.logged import captured
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

CLIENT_SECRET = "oauth-client-secret-5f2c9a"
ACCESS_TOKEN = "access-token-from-the-receivers-issuer-77aa"
PASSWORD = "basic-password-3e1d0b"
OTHER_KEY = "wrong-secret-which-is-long-enough-for-hs256"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def basic_host() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def settings(settings: Settings, receiver: Receiver, basic_host: Receiver) -> Settings:
    oauth = CallbackAuth(
        type="oauth2",
        token_url=receiver.url("/token"),
        client_id="pss-client",
        client_secret=CLIENT_SECRET,
    )
    basic = CallbackAuth(type="basic", username="pss", password=PASSWORD)
    return hub_settings(
        settings,
        receiver,
        callback_allowed_hosts=[receiver.host, basic_host.host],
        callback_auth={receiver.host: oauth, basic_host.host: basic},
    )


def test_a_full_journey_at_debug_logs_no_secret(
    client: TestClient,
    world: World,
    receiver: Receiver,
    basic_host: Receiver,
    deliver: Deliver,
    settings: Settings,
) -> None:
    dave, provider = world.auth("dave"), world.auth("prov-a", "provider")
    forged = mint_token(OTHER_KEY, "dave", ["customer"])
    receiver.script("/token", token_answer(ACCESS_TOKEN))
    basic_host.script("/cb", 500, 200)
    with captured(settings, logging.DEBUG, loggers=("sqlalchemy",)) as logged:
        signing = [
            subscribe(client, dave, receiver.url("/cb"))["secret"],
            subscribe(client, dave, basic_host.url("/cb"))["secret"],
        ]
        order = world.create(dave, order_body("off-a"))
        acknowledged = client.patch(
            f"{ORDERS}/{order['id']}", json={"state": "acknowledged"}, headers={**provider, **MERGE}
        )
        refused = client.get(ORDERS, headers={"Authorization": f"Bearer {forged}"})
        deliver()
        deliver_again_later(client)
        deliver()
    assert acknowledged.status_code == 200 and refused.status_code == 401
    assert receiver.on("/cb") and len(basic_host.on("/cb")) >= 2  # the journey happened
    assert receiver.on("/cb")[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "SELECT" in logged.text  # DEBUG really was on, statements included
    secrets = {
        "JWT secret": SECRET,
        "customer's token": dave["Authorization"].removeprefix("Bearer "),
        "provider's token": provider["Authorization"].removeprefix("Bearer "),
        "refused token": forged,
        "OAuth client secret": CLIENT_SECRET,
        "OAuth access token": ACCESS_TOKEN,
        "basic password": PASSWORD,
        "basic credentials": base64.b64encode(f"pss:{PASSWORD}".encode()).decode(),
        **{f"signing secret {n}": secret for n, secret in enumerate(signing)},
    }
    leaked = [name for name, secret in secrets.items() if secret in logged.text]
    assert not leaked


def deliver_again_later(client: TestClient) -> None:
    """The failed delivery's retry is due once the clock passes its schedule."""
    client.app.state.services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]


def test_a_secret_is_masked_however_a_line_came_to_hold_it() -> None:
    """The mechanism behind the journey: configured secrets (also as escaped inside a JSON
    line) and credential shapes are masked in the formatted line, whatever put them there."""
    settings = Settings(
        jwt_secret='jwt"secret\\with-escapes-0123456789',
        callback_auth={"h:443": CallbackAuth(type="api_key", value="api-key-value-1")},
    )
    formatter = logs.formatter(settings.model_copy(update={"log_format": "json"}))
    assert isinstance(formatter, Redacting)
    leaks = [
        settings.jwt_secret,
        "api-key-value-1",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "postgresql://user:db-password@host/db",
        "Authorization: Bearer abcdefghijklmnop0123",
    ]
    for leak in leaks:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "saw %s", (leak,), None)
        line = formatter.format(record)
        assert MASK in line
        for part in (
            "secret",
            "api-key-value",
            "c2lnbmF0dXJl",
            "MfKQ9r8",
            "db-password",
            "abcdefghij",
        ):
            assert part not in line.replace('"message"', ""), line
