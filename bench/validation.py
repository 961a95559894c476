"""CPU per validation of a create body (issue 11 §3): a valid two-item order, and seed 001's
example order, whose answer lists 31 problems. In-process, no server; see docs/ARCHITECTURE.md
"Validation errors" for the figures before and after the move to jsonschema-rs.

    .venv/bin/python bench/validation.py
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path

from pss_ordering.api.contract import body_schema
from pss_ordering.domain.errors import PssError
from pss_ordering.domain.field_rights import RENAMED
from pss_ordering.domain.orders import creation_shape

SEED = Path(__file__).parent.parent / "tests" / "e2e" / "data" / "seed001_example_order.json"
VALID = {
    "relatedParty": [
        {"role": "customer", "partyOrPartyRole": {"@type": "PartyRef", "id": "alice"}}
    ],
    "requestedStartDate": "2026-01-01T00:00:00Z",
    "productOrderItem": [
        {"id": str(n), "action": "add", "productOffering": {"id": "off-a"}} for n in (1, 2)
    ],
}


def cpu_us(fn: Callable[[], object], runs: int) -> float:
    start = time.process_time()
    for _ in range(runs):
        fn()
    return (time.process_time() - start) / runs * 1e6


def main() -> None:
    schema = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")
    seed = json.loads(SEED.read_text())

    def valid() -> object:
        return schema.validate(copy.copy(VALID), rules=creation_shape, aliases=RENAMED)

    def invalid() -> object:
        try:
            return schema.validate(copy.deepcopy(seed), rules=creation_shape, aliases=RENAMED)
        except PssError as exc:
            return exc

    print(f"valid two-item order: {cpu_us(valid, 20_000):.1f} µs CPU")
    print(f"seed 001 example order (31 problems): {cpu_us(invalid, 2_000):.1f} µs CPU")


if __name__ == "__main__":
    main()
