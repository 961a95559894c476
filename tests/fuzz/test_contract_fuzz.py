"""Property-based API fuzzing (schemathesis) against the contract the service serves.

For every served operation, generated requests, schema-valid and schema-invalid,
must never produce a 5xx, and every response must match the documented schema,
status codes and content type. Bounded by ``max_examples``; runs in CI.

A second run aims at what the schema-driven generators do not reach and what
PostgreSQL, not SQLite, refuses (issue 9): for every served operation, hostile
values — NUL bytes and other control characters, strings just over each length
limit, extreme numbers, unrepresentable dates and durations, JSON nested past
the depth limit, huge offsets, parameters repeated thousands of times, non-ASCII
ETags — put into its path, its query and one field of a valid body. The answer
must never be a 5xx, and every 4xx must be a TMF Error. Both databases.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.api.routes.docs import SERVED, served_contract
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.world import World, order_body

pytestmark = pytest.mark.slow
EXAMPLES = 30


def _seed(app: Any, auth: Auth) -> str:
    """prov-a, its offering off-a, and an order by the fuzzer (whose id is returned)."""
    with TestClient(app) as client:
        world = World(client, auth)
        client.post(
            "/psi-api/partyManagement/v2/organization",
            json={"id": "prov-a", "name": "A"},
            headers=world.gov,
        )
        client.post(
            "/psi-api/productCatalogManagement/v2/productOffering",
            json={
                "id": "off-a",
                "name": "a",
                "lifecycleStatus": "active",
                "relatedParty": [{"role": "provider", "partyOrPartyRole": {"id": "prov-a"}}],
            },
            headers=world.gov,
        )
        return str(world.create(auth("fuzzer", "customer"), order_body("off-a"))["id"])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("api", sorted(SERVED))
def test_no_5xx_and_responses_match_contract(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    auth: Auth,
    api: str,
    mode: GenerationMode,
) -> None:
    # Production's body limit: generated bodies reach ~70 kB, and a 413 for those is
    # not what schemathesis expects for schema-violating data (413 has its own tests).
    production_limits = settings.model_copy(update={"max_body_bytes": 1_000_000})
    app = build_app(production_limits, engine, clock)
    _seed(app, auth)
    headers = auth("fuzzer", "customer", "provider")
    schema = schemathesis.openapi.from_asgi(f"{SERVED[api][0]}/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            call_and_validate(case, headers)

        check()


def call_and_validate(case: Any, headers: dict[str, str]) -> None:
    """Send a generated case and check the answer against the contract. Schema-valid
    bodies may still break a business rule (422), so the "schema-valid must be
    accepted" check does not apply; a query parameter without a name is dropped by the
    HTTP client (httpx2) before it is sent, so such a "negative" case reaches the
    service valid and is not one."""
    assume("" not in (case.query or {}))
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])


# --- hostile values -------------------------------------------------------------------------

HOSTILE_EXAMPLES = 60
HTTPX_MAX_QUERY = 60_000
NUMBERS = [2**63, 2**64, -(2**63) - 1, 2**64 + 1, 10**30, 1e308, -1e308, 5e-324, -1, 0]
TEXTS = [
    "\x00",
    "a\x00b",
    "%00",
    "\x01\x1f\x7f",
    "\ud800",  # a lone surrogate: orjson refuses it, a query decodes it as U+FFFD
    "i" * 65,
    "e" * 256,
    "u" * 2049,
    "t" * 10_001,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-12-31T23:59:60Z",
    "0000-00-00T00:00:00Z",
    "P99999999Y",
    "P" + "9" * 400 + "D",
    "9223372036854775808",
    "-9223372036854775809",
    "1e999",
    "NaN",
    "²",
    "a" * 20 + "." + "b" * 20,
]
DEEP = "__deep__"
HOSTILE_TEXT = st.one_of(
    st.sampled_from(TEXTS),
    st.text(min_size=0, max_size=12).map(lambda text: text + "\x00"),
    st.sampled_from(TEXTS).flatmap(lambda a: st.sampled_from(TEXTS).map(lambda b: a + b)),
)
HOSTILE_JSON: st.SearchStrategy[Any] = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from(NUMBERS),
    st.just(DEEP),
    st.sampled_from([None, True, [], {}, {"\x00": 1}, {"k" * 10_001: 1}]),
)
QUERY_NAMES = [
    "offset",
    "limit",
    "fields",
    "sort",
    "state",
    "id",
    "description",
    "productOrderItem.state",
    "productOrderItem.productOffering.id",
    "relatedParty.partyOrPartyRole.id",
    "externalId.id",
    "creationDate.gte",
    "requestedStartDate.lt",
    "productOrderItem.quantity.gt",
    "name",
    "eventType",
    "provider",
    "from",
    "to",
]
REPEATS = [1, 1, 2, 101, 2000]
DISTINCT = "__distinct__"  # repeated with a different value each time
# Parameters that broke the service before it bounded them (issue 9): drawn as often as
# random ones, so that every run tries each on every operation.
KNOWN_HOSTILE = [
    ("offset", "9223372036854775808", 1),
    ("offset", "9" * 5000, 1),
    ("limit", "²", 1),
    ("creationDate.gte", "0001-01-01T00:00:00+01:00", 1),
    ("description.lt", "9999-12-31T23:59:59-01:00", 1),
    ("creationDate", "0001-01-01T00:00:00+01:00", 1),
    ("from", "0001-01-01T00:00:00+01:00", 1),
    ("to", "9999-12-31T23:59:59-01:00", 1),
    ("productOrderItem.state", "pending", 2000),
    ("productOrderItem.state", DISTINCT, 2000),
    ("relatedParty.partyOrPartyRole.id", DISTINCT, 150),
    ("state", DISTINCT, 2000),
    ("eventType", DISTINCT, 2000),
    ("state", "\x00", 1),
    ("externalId.id", "a\x00", 1),
    ("eventType", "\x00", 1),
    ("provider", "\x00", 1),
    ("fields", "productOrderItem" + ".x" * 1000, 1),
    ("sort", ",".join(["-creationDate"] * 5000), 1),
]
ETAGS: list[bytes] = [b'"\xb2"', b'W/"1\xb9"', b"\xff", b'"1"', b'"99999999999999999999999"']
TERM = {"name": "informationRequiredTimeout", "duration": {"amount": 2, "units": "days"}}


def _seed_bodies(order_id: str) -> dict[tuple[str, str], Any]:
    """A valid body for every operation that takes one (keyed by path template, method)."""
    offering = {
        "id": "off-h",
        "name": "h",
        "lifecycleStatus": "active",
        "relatedParty": [{"role": "provider", "partyOrPartyRole": {"id": "prov-a"}}],
        "productOfferingTerm": [TERM],
    }
    characteristic = {"name": "responseTime", "value": "PT1H"}
    order = order_body(
        "off-a",
        externalId=[{"id": "ext-1"}],
        requestedStartDate="2026-12-01T00:00:00Z",
        note=[{"text": "n"}],
    )
    # a free-form position (the schema allows any value), where deep or odd JSON lands
    order["productOrderItem"][0]["product"] = {
        "productCharacteristic": [{"name": "f", "value": "x"}]
    }
    return {
        ("/productOrder", "post"): order,
        ("/productOrder/{id}", "patch"): {
            "description": "d",
            "requestedStartDate": "2026-12-01T00:00:00Z",
            "externalId": [{"id": "ext-2"}],
        },
        ("/organization", "post"): {
            "id": "org-h",
            "name": "H",
            "partyCharacteristic": [characteristic],
        },
        ("/organization/{id}", "patch"): {"name": "H2", "partyCharacteristic": [characteristic]},
        ("/individual", "post"): {"id": "ind-h", "givenName": "g", "familyName": "f"},
        ("/individual/{id}", "patch"): {"givenName": "g2"},
        ("/productOffering", "post"): offering,
        ("/productOffering/{id}", "patch"): {"name": "h2", "productOfferingTerm": [TERM]},
        ("/topic/{topicId}/hub", "post"): {
            "callback": "https://receiver.test/cb",
            "query": "eventType=ProductOrderStateChangeEvent",
        },
        ("/topic/{topicId}/event", "post"): {
            "eventId": "ev-1",
            "eventType": "ProductOrderStateChangeEvent",
            "event": {"productOrder": {"id": order_id, "state": "acknowledged"}},
        },
    }


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a body where a value can be replaced (containers included)."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_leaves(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_leaves(child, (*path, index)))
    return found


def _replaced(body: Any, path: tuple[Any, ...], value: Any, as_key: bool) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(body))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    if as_key and isinstance(parent, dict):
        parent[value if isinstance(value, str) else str(value)] = 1
    else:
        parent[path[-1]] = value
    return copy


def _encoded(body: Any) -> bytes:
    """JSON text (the standard library writes big integers and lone surrogates, as a
    hostile client would), with the DEEP marker replaced by 300 levels of nesting."""
    deep = "[" * 150 + '{"k":' * 150 + "0" + "}" * 150 + "]" * 150
    return json.dumps(body).replace(f'"{DEEP}"', deep).encode()


@st.composite
def hostile_requests(
    draw: Any, path: str, query_names: list[str], valid: dict[str, list[str]]
) -> Any:
    """(url, query pairs, headers, which body position, hostile value, as a key instead)."""
    url = path
    for name in re.findall(r"{(\w+)}", path):
        value = draw(st.one_of(st.sampled_from(valid.get(name, ["x"])), HOSTILE_TEXT))
        url = url.replace("{" + name + "}", quote(value, safe="", errors="surrogatepass") or "%20")
    names = st.sampled_from(sorted({*query_names, *QUERY_NAMES}))
    random = st.tuples(names, st.one_of(HOSTILE_TEXT, st.just("1")), st.sampled_from(REPEATS))
    query = draw(st.lists(st.one_of(st.sampled_from(KNOWN_HOSTILE), random), max_size=3))
    params = [
        (name, f"v{n}" if value == DISTINCT else value)
        for name, value, times in query
        for n in range(times)
    ]
    headers = {}
    if draw(st.booleans()):
        headers["If-Match"] = draw(st.sampled_from(ETAGS))
    return (
        url,
        params,
        headers,
        draw(st.integers(0, 10**6)),
        draw(HOSTILE_JSON),
        draw(st.booleans()),
    )


@pytest.mark.parametrize("api", sorted(SERVED))
def test_hostile_values_never_5xx(
    engine: Engine, settings: Settings, clock: ManualClock, auth: Auth, api: str
) -> None:
    production_limits = settings.model_copy(update={"max_body_bytes": 1_000_000})
    app = build_app(production_limits, engine, clock)
    order_id = _seed(app, auth)
    with TestClient(app) as client:
        fuzzer = {"id": "fuzzer", "givenName": "F", "familyName": "Z"}
        client.post("/psi-api/partyManagement/v2/individual", json=fuzzer, headers=auth("fuzzer"))
    bodies = _seed_bodies(order_id)
    valid = {"id": [order_id, "prov-a", "off-a", "fuzzer"], "topicId": ["order"]}
    callers = (auth("fuzzer", "customer", "provider"), auth("gov", "governance"))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, operations in served_contract(api)["paths"].items():
            for method, operation in operations.items():
                if method not in ("get", "post", "patch", "delete"):
                    continue
                names = [p.get("name", "") for p in operation.get("parameters") or []]
                target = Target(client, SERVED[api][0], path, method, bodies.get((path, method)))
                _fuzz(target, names, valid, callers)


@dataclass(frozen=True)
class Target:
    client: TestClient
    base: str
    path: str
    method: str
    seed: Any


def _fuzz(
    target: Target,
    names: list[str],
    valid: dict[str, list[str]],
    callers: tuple[dict[str, str], dict[str, str]],
) -> None:
    @given(request=hostile_requests(target.path, names, valid), governance=st.booleans())
    @hypothesis_settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(request: Any, governance: bool) -> None:
        url, params, headers, pick, value, as_key = request
        content = None
        if target.seed is not None:
            places = _leaves(target.seed)
            content = _encoded(_replaced(target.seed, places[pick % len(places)], value, as_key))
            merge = target.method == "patch"
            headers = {
                **headers,
                "Content-Type": "application/merge-patch+json" if merge else "application/json",
            }
        # Encoded here: a client may send the UTF-8 form of a lone surrogate (%ED%A0%80).
        query = urlencode(params, errors="surrogatepass")
        while len(query) > HTTPX_MAX_QUERY:  # what the client can send at all
            params = params[: len(params) // 2]
            query = urlencode(params, errors="surrogatepass")
        response = target.client.request(
            target.method.upper(),
            target.base + url + (f"?{query}" if query else ""),
            content=content,
            headers={**callers[governance], **headers},
        )
        case = f"{target.method.upper()} {url} {str(params)[:300]} {str(content)[:300]}"
        assert response.status_code < 500, (case, response.text)
        if response.status_code >= 400 and response.status_code != 405:
            error = response.json()
            assert error["@type"] == "Error", (case, error)
            assert error["status"] == str(response.status_code), (case, error)

    check()
