"""Property-based API fuzzing (schemathesis) of the TMF622 v4 surface against the v4
document it serves: generated requests, schema-valid and schema-invalid, never
produce a 5xx, and every answer matches the documented schema, statuses and
content type. The client-side listener paths are documentation of what this
service POSTs, not operations it serves, so they are left out. Both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from sqlalchemy import Engine

from pss_ordering.api.routes.orders_v4_openapi import PATH
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.fuzz.test_contract_fuzz import EXAMPLES, _seed, call_and_validate

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_v4_no_5xx_and_responses_match_contract(
    engine: Engine, settings: Settings, clock: ManualClock, auth: Auth, mode: GenerationMode
) -> None:
    app = build_app(settings.model_copy(update={"max_body_bytes": 1_000_000}), engine, clock)
    _seed(app, auth)
    headers = auth("fuzzer", "customer", "provider")
    schema = schemathesis.openapi.from_asgi(PATH, app)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.path.startswith("/listener/"):
            continue

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
