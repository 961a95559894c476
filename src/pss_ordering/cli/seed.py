"""Load parties and offerings from a JSON seed file, as governance, skipping what exists.

The file holds ``{"organization": [...], "individual": [...], "productOffering": [...]}``;
each entry goes through the same schema and rules as the API. A file that cannot
be used is a :class:`ConfigError` naming the entry (``productOffering[1] (id
geo-backup): name: ...``), before anything later in the file is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.common import Services
from ..api.contract import body_schema
from ..config import ConfigError
from ..domain.errors import Conflict, PssError
from ..domain.identity import Caller, Role

OPERATOR = Caller("pss-operator", frozenset({Role.GOVERNANCE}))
DEMO_SEED = Path(__file__).resolve().parent.parent / "demo_seed.json"
KINDS = ("organization", "individual", "productOffering")
_SCHEMAS = {
    "organization": ("partyManagement", "Organization_FVO", "Organization"),
    "individual": ("partyManagement", "Individual_FVO", "Individual"),
    "productOffering": ("productCatalogManagement", "ProductOffering_FVO", "ProductOffering"),
}


@dataclass(slots=True)
class SeedCounts:
    """Per kind, the entries created and those already there (a restart loads nothing)."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    existing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def __str__(self) -> str:
        made = ", ".join(f"{n} {kind}" for kind, n in self.created.items() if n)
        kept = sum(self.existing.values())
        if not made:
            return f"nothing new ({kept} entries already present)" if kept else "nothing to load"
        return f"created {made}" + (f"; {kept} already present" if kept else "")


def load_seed(services: Services, path: Path) -> SeedCounts:
    data = _read(path)
    counts = SeedCounts()
    for kind in KINDS:
        schema = body_schema(*_SCHEMAS[kind])
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise ConfigError(f"seed {path}: '{kind}' must be a list of entries")
        for index, entry in enumerate(entries):
            try:
                body = schema.validate(dict(entry) if isinstance(entry, dict) else entry)
                if kind == "productOffering":
                    services.offerings.publish(OPERATOR, body)
                else:
                    services.parties.register(OPERATOR, kind, body)
                counts.created[kind] += 1
            except Conflict:
                counts.existing[kind] += 1
            except PssError as exc:
                name = f" (id {entry['id']})" if isinstance(entry, dict) and "id" in entry else ""
                raise ConfigError(f"seed {path}: {kind}[{index}]{name}: {exc.message}") from None
    return counts


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"seed {path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"seed {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"seed {path}: must be a JSON object with {', '.join(KINDS)}")
    unknown = sorted(set(data) - set(KINDS))
    if unknown:
        raise ConfigError(
            f"seed {path}: unknown key(s) {', '.join(unknown)}; expected {', '.join(KINDS)}"
        )
    return data
