"""Load parties and offerings from a JSON seed file, as governance, skipping what exists.

The file holds ``{"organization": [...], "individual": [...], "productOffering": [...]}``;
each entry goes through the same schema and rules as the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..api.common import Services
from ..api.contract import body_schema
from ..domain.errors import Conflict
from ..domain.identity import Caller, Role

OPERATOR = Caller("pss-operator", frozenset({Role.GOVERNANCE}))
DEMO_SEED = Path(__file__).resolve().parent.parent / "demo_seed.json"


def load_seed(services: Services, path: Path) -> dict[str, int]:
    data: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
    created = {"organization": 0, "individual": 0, "productOffering": 0}
    for kind, schema_name in (("organization", "Organization"), ("individual", "Individual")):
        schema = body_schema("partyManagement", f"{schema_name}_FVO", schema_name)
        for entry in data.get(kind, []):
            try:
                services.parties.register(OPERATOR, kind, schema.validate(dict(entry)))
                created[kind] += 1
            except Conflict:
                pass
    offering_schema = body_schema(
        "productCatalogManagement", "ProductOffering_FVO", "ProductOffering"
    )
    for entry in data.get("productOffering", []):
        try:
            services.offerings.publish(OPERATOR, offering_schema.validate(dict(entry)))
            created["productOffering"] += 1
        except Conflict:
            pass
    return created
