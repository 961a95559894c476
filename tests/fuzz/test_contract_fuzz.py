"""Property-based API fuzzing (schemathesis) against the contract the service serves.

For every served operation, generated requests, schema-valid and schema-invalid,
must never produce a 5xx, and every response must match the documented schema,
status codes and content type. Bounded by ``max_examples``; runs in CI.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.api.routes.docs import SERVED
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.world import World, order_body

pytestmark = pytest.mark.slow
EXAMPLES = 30


def _seed(app: Any, auth: Auth) -> None:
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
        world.create(auth("fuzzer", "customer"), order_body("off-a"))


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
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # Schema-valid bodies may still break a business rule (422), so the
            # "schema-valid must be accepted" check does not apply here.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()
