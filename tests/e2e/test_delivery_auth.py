"""How deliveries authenticate and where they may go, over real HTTP on 127.0.0.1.

PSI-01-02-03-09 (ADR035): the PSS authenticates to each target host as the
operator configured for that ``host:port`` (OAuth 2.0 client credentials,
static bearer token, basic auth, API-key header); a host with no
configuration gets no credentials. PSI-01-02-02-03: callbacks go only to
allow-listed hosts, and that is checked again when sending and after DNS, so
a host removed from the list, or a name that resolves to a private address,
is refused at connection time.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import ValidationError
from starlette.testclient import TestClient

from pss_ordering.api.common import Services
from pss_ordering.bootstrap import build_delivery_worker
from pss_ordering.clock import ManualClock
from pss_ordering.config import CallbackAuth, Settings
from pss_ordering.domain.hub import AddressPolicy
from pss_ordering.events.outbound_auth import OutboundAuth
from tests.conftest import Auth
from tests.delivery import HUB, Deliver, hub_settings, subscribe
from tests.receiver import Answer, Receiver
from tests.world import World

RETRY = timedelta(seconds=10)  # the first step of tests.delivery.SCHEDULE
JSON = {"Content-Type": "application/json"}


def token_answer(token: str, expires_in: int = 3600) -> Answer:
    body = f'{{"access_token":"{token}","token_type":"Bearer","expires_in":{expires_in}}}'
    return Answer(200, JSON, body.encode())


def auth_config(kind: str, receiver: Receiver) -> CallbackAuth:
    configs: dict[str, dict[str, Any]] = {
        "bearer": {"type": "bearer", "token": "static-token"},
        "basic": {"type": "basic", "username": "pss", "password": "pa:ss"},
        "api_key": {"type": "api_key", "header": "X-Hub-Key", "value": "k-123"},
        "oauth2": {
            "type": "oauth2",
            "token_url": receiver.url("/token"),
            "client_id": "pss-client",
            "client_secret": "cs 1:+",
            "scope": "events:write",
        },
    }
    configs["oauth2_post"] = {**configs["oauth2"], "client_auth": "post"}
    return CallbackAuth.model_validate(configs[kind])


@pytest.fixture
def other() -> Iterator[Receiver]:
    """A second allow-listed host, with no authentication configured."""
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def auth_kind(request: pytest.FixtureRequest) -> str:
    """Parametrized indirectly by the tests; OAuth 2.0 client credentials by default."""
    return getattr(request, "param", "oauth2")


@pytest.fixture
def settings(
    settings: Settings, receiver: Receiver, auth_kind: str, request: pytest.FixtureRequest
) -> Settings:
    hosts = [*settings.callback_allowed_hosts, receiver.host, f"receiver.test:{receiver.port}"]
    if "other" in request.fixturenames:  # started only where used: each server takes 0.5s to stop
        hosts.append(request.getfixturevalue("other").host)
    return hub_settings(
        settings,
        receiver,
        callback_allowed_hosts=hosts,
        callback_auth={receiver.host: auth_config(auth_kind, receiver)},
    )


class LoopbackResolver(AbstractResolver):
    """Resolves every name to 127.0.0.1 (a name that DNS points at an internal address)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


def run_worker(
    client: TestClient,
    *then: Callable[[], object],
    settings: Settings | None = None,
    resolver: AbstractResolver | None = None,
) -> None:
    """Drain with ONE worker (one sender, one token cache); after each drain run a step, drain.

    ``deliver()`` builds a new worker each time, which would hide whether a
    token is reused or fetched again; this keeps the same one throughout.
    ``settings`` and ``resolver`` replace the app's for this worker only.
    """
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    worker = build_delivery_worker(services, settings, resolver)

    async def drive() -> None:
        try:
            await worker.drain()
            for step in then:
                step()
                await worker.drain()
        finally:
            await worker.close()

    asyncio.run(drive())


def health(client: TestClient, headers: dict[str, str], hub: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"{HUB}/order/hub/{hub['id']}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def form(raw: bytes) -> dict[str, str]:
    return {name: value for name, [value] in parse_qs(raw.decode(), strict_parsing=True).items()}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- static credentials -----------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_kind", "header", "value"),
    [
        ("bearer", "authorization", "Bearer static-token"),
        ("basic", "authorization", basic("pss", "pa:ss")),
        ("api_key", "x-hub-key", "k-123"),
    ],
    indirect=["auth_kind"],
)
def test_static_credentials_per_host_PSI_01_02_03_09(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    other: Receiver,
    deliver: Deliver,
    header: str,
    value: str,
) -> None:
    """Every delivery to the configured host carries its credentials; other hosts get none."""
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/cb"))
    subscribe(client, dave, other.url("/cb"))
    world.create(dave)
    world.create(dave)
    deliver()

    sent = receiver.on("/cb")
    assert len(receiver.delivered("/cb")) == 2
    assert [r.headers.get(header) for r in sent] == [value, value]
    if header != "authorization":
        assert all("authorization" not in r.headers for r in sent), "only the API key is sent"
    assert len(other.delivered("/cb")) == 2
    unconfigured = other.on("/cb")
    assert all("authorization" not in r.headers for r in unconfigured)
    assert all("x-hub-key" not in r.headers for r in unconfigured)
    assert not receiver.on("/token")


# -- OAuth 2.0 client credentials ---------------------------------------------------


@pytest.mark.parametrize("auth_kind", ["oauth2", "oauth2_post"], indirect=True)
def test_oauth2_token_fetched_once_and_reused_PSI_01_02_03_09(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, auth_kind: str
) -> None:
    """A client-credentials token request (RFC 6749 4.4), then the token on every delivery.

    Client credentials go in HTTP Basic by default, in the form with
    ``client_auth: post``; the scope is passed; one token serves all deliveries.
    """
    dave = auth("dave")
    receiver.script("/token", token_answer("t1"))
    subscribe(client, dave, receiver.url("/cb"))
    for _ in range(3):
        world.create(dave)
    run_worker(client)

    [token_request] = receiver.on("/token")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = form(token_request.raw)
    assert fields["grant_type"] == "client_credentials"
    assert fields["scope"] == "events:write"
    if auth_kind == "oauth2":
        # RFC 6749 2.3.1: id and secret are form-encoded before going into HTTP Basic
        assert token_request.headers["authorization"] == basic("pss-client", "cs%201%3A%2B")
        assert "client_secret" not in fields
    else:
        assert "authorization" not in token_request.headers
        assert (fields["client_id"], fields["client_secret"]) == ("pss-client", "cs 1:+")
    sent = receiver.on("/cb")
    assert len(receiver.delivered("/cb")) == 3
    assert [r.headers["authorization"] for r in sent] == ["Bearer t1"] * 3


def test_oauth2_token_fetched_again_after_401_PSI_01_02_03_09(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, clock: ManualClock
) -> None:
    """A 401 means the token is no good: that attempt failed, the retry uses a new token."""
    dave = auth("dave")
    receiver.script("/token", token_answer("t1"), token_answer("t2"))
    receiver.script("/cb", 401)
    hub = subscribe(client, dave, receiver.url("/cb"))
    order = world.create(dave)

    def after_the_401() -> None:
        rejected = health(client, dave, hub)
        assert rejected["lastStatus"] == 401
        assert rejected["pendingCount"] == 1
        clock.advance(RETRY)

    run_worker(client, after_the_401)

    assert len(receiver.on("/token")) == 2, "the token is not expired, only the 401 refreshes it"
    sent = receiver.on("/cb")
    assert [(r.answered, r.headers["authorization"]) for r in sent] == [
        (401, "Bearer t1"),
        (200, "Bearer t2"),
    ]
    [delivered] = receiver.delivered("/cb")
    assert delivered["correlationId"] == order["id"]
    assert sent[0].event_id == sent[1].event_id, "the same event, retried"


def test_token_endpoint_failure_fails_the_delivery_until_it_recovers_PSI_01_02_03_09(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, clock: ManualClock
) -> None:
    """No token, no send: the attempt fails with an authentication error and is retried."""
    dave = auth("dave")
    receiver.script("/token", Answer(500, JSON, b'{"error":"server_error"}'), token_answer("t1"))
    hub = subscribe(client, dave, receiver.url("/cb"))
    world.create(dave)

    def after_the_failure() -> None:
        assert receiver.on("/cb") == [], "nothing is sent without credentials"
        failed = health(client, dave, hub)
        assert "authentication" in failed["lastError"]
        assert "500" in failed["lastError"]
        assert failed["consecutiveFailures"] == 1
        assert failed["state"] == "active"
        clock.advance(RETRY)

    run_worker(client, after_the_failure)

    assert len(receiver.on("/token")) == 2
    assert len(receiver.delivered("/cb")) == 1
    assert [r.headers["authorization"] for r in receiver.on("/cb")] == ["Bearer t1"]
    recovered = health(client, dave, hub)
    assert recovered["pendingCount"] == 0
    assert recovered["consecutiveFailures"] == 0


def test_oauth2_token_refreshed_before_expiry_PSI_01_02_03_09(receiver: Receiver) -> None:
    """A token is fetched again shortly before it expires, not after (a margin of 10%, <= 60s).

    ``expires_in`` 120 -> margin min(60, 12) -> refreshed from 108s on.
    """
    now = [1000.0]
    receiver.script("/token", token_answer("t1", expires_in=120), token_answer("t2"))
    auth = OutboundAuth(
        {receiver.host: auth_config("oauth2", receiver)}, timeout=1.0, monotonic=lambda: now[0]
    )

    async def tokens_at(*moments: float) -> list[str]:
        seen = []
        try:
            for moment in moments:
                now[0] = 1000.0 + moment
                seen.append((await auth.headers(receiver.host))["Authorization"])
        finally:
            await auth.close()
        return seen

    seen = asyncio.run(tokens_at(0.0, 60.0, 107.9, 108.0, 119.0))
    assert seen == ["Bearer t1", "Bearer t1", "Bearer t1", "Bearer t2", "Bearer t2"]
    assert len(receiver.on("/token")) == 2


# -- where deliveries may go -------------------------------------------------------


def test_allow_list_checked_again_when_sending_PSI_01_02_02_03(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, settings: Settings
) -> None:
    """A host taken off the allow-list after registration gets nothing more."""
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/cb"))
    world.create(dave)
    narrowed = settings.model_copy(
        update={
            "callback_allowed_hosts": [
                h for h in settings.callback_allowed_hosts if h != receiver.host
            ]
        }
    )
    run_worker(client, settings=narrowed)

    assert receiver.requests == []
    refused = health(client, dave, hub)
    assert "refused" in refused["lastError"]
    assert receiver.host in refused["lastError"]
    assert refused["pendingCount"] == 1


def test_name_resolving_to_internal_address_refused_at_connection_PSI_01_02_02_03(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    settings: Settings,
    clock: ManualClock,
) -> None:
    """An allow-listed *name* that DNS points at 127.0.0.1 is refused when connecting.

    Only public addresses pass, unless the operator allows the network
    (PSS_CALLBACK_ALLOWED_NETWORKS); then the same event goes out.
    """
    dave = auth("dave")
    by_name = f"http://receiver.test:{receiver.port}/cb"
    hub = subscribe(client, dave, by_name)
    order = world.create(dave)
    resolver = LoopbackResolver()
    run_worker(client, resolver=resolver)

    assert resolver.asked == ["receiver.test"]
    assert receiver.requests == []
    refused = health(client, dave, hub)
    assert "receiver.test" in refused["lastError"]
    assert "127.0.0.1" in refused["lastError"]
    assert "not an allowed address" in refused["lastError"]

    clock.advance(RETRY)
    loopback_allowed = settings.model_copy(update={"callback_allowed_networks": ["127.0.0.0/8"]})
    run_worker(client, settings=loopback_allowed, resolver=LoopbackResolver())

    [request] = receiver.on("/cb")
    assert request.headers["host"] == f"receiver.test:{receiver.port}"
    assert "authorization" not in request.headers, "credentials are per host:port, by name"
    [delivered] = receiver.delivered("/cb")
    assert delivered["correlationId"] == order["id"]
    assert health(client, dave, hub)["pendingCount"] == 0


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_allowed_PSI_01_02_02_03(address: str) -> None:
    """Public addresses need no configuration."""
    assert AddressPolicy.of([]).allows(address)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("127.0.0.1", "127.0.0.0/8"),
        ("::1", "::1/128"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("192.168.1.10", "192.168.0.0/16"),
        ("172.16.0.1", "172.16.0.0/12"),
        ("100.64.0.1", "100.64.0.0/10"),
        ("169.254.169.254", "169.254.169.254/32"),
        ("fe80::1%eth0", "fe80::/10"),
        ("fd00::1", "fc00::/7"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("64:ff9b::7f00:1", "127.0.0.0/8"),
        ("2002:7f00:1::1", "127.0.0.0/8"),
        ("0.0.0.0", "0.0.0.0/32"),
    ],
)
def test_internal_addresses_refused_unless_allowed_PSI_01_02_02_03(
    address: str, network: str
) -> None:
    """Loopback, private, shared, link-local (the cloud metadata endpoint) and IPv4 hidden
    in IPv6 are refused, unless the operator allowed a network that contains them."""
    assert not AddressPolicy.of([]).allows(address)
    assert not AddressPolicy.of(["203.0.113.0/24"]).allows(address)
    assert AddressPolicy.of([network]).allows(address)


def test_non_addresses_refused_PSI_01_02_02_03() -> None:
    """The resolver must hand back addresses; anything else is refused."""
    policy = AddressPolicy.of(["0.0.0.0/0", "::/0"])
    assert not policy.allows("receiver.test")
    assert not policy.allows("")


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"type": "oauth2"}, "token_url, client_id, client_secret"),
        (
            {"type": "oauth2", "token_url": "https://idp.test/token", "client_id": "c"},
            "client_secret",
        ),
        ({"type": "bearer"}, "token"),
        ({"type": "basic", "username": "u"}, "password"),
        ({"type": "api_key", "header": "X-Key"}, "value"),
    ],
)
def test_incomplete_callback_auth_refused_at_startup_PSI_01_02_03_09(
    config: dict[str, Any], missing: str
) -> None:
    """A host's authentication with a field missing is a configuration error, not a 401 later."""
    with pytest.raises(ValidationError, match=missing):
        Settings.model_validate({"callback_auth": {"h:1": config}})


def test_unknown_callback_auth_type_refused_PSI_01_02_03_09() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"callback_auth": {"h:1": {"type": "digest", "token": "x"}}})


@pytest.mark.parametrize("networks", [["10.0.0.0/33"], ["not-a-network"], ["fd00::/129"]])
def test_bad_allowed_networks_refused_at_startup_PSI_01_02_02_03(networks: list[str]) -> None:
    with pytest.raises(ValidationError):
        Settings(callback_allowed_networks=networks)


def test_allowed_networks_from_the_environment_PSI_01_02_02_03(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``PSS_CALLBACK_ALLOWED_NETWORKS`` is comma-separated, like the host allow-list."""
    monkeypatch.setenv("PSS_CALLBACK_ALLOWED_NETWORKS", "10.0.0.0/8, fd00::/8")
    assert Settings().callback_allowed_networks == ["10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("PSS_CALLBACK_ALLOWED_NETWORKS", "10.0.0.0/8,bogus")
    with pytest.raises(ValidationError):
        Settings()


def test_lease_shorter_than_three_timeouts_refused() -> None:
    """A lease that could expire during a send would let a second worker send the same event
    (PSI-01-02-03-08 ordering), so it is refused at startup."""
    with pytest.raises(ValidationError, match="three times"):
        Settings(delivery_timeout_seconds=10.0, delivery_lease_seconds=29.0)
    assert Settings(delivery_timeout_seconds=10.0, delivery_lease_seconds=30.0)
