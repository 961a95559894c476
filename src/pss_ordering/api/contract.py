"""The PSI OpenAPI documents: request validation and the contract the service serves.

The ICD schemas are OpenAPI 3.0 with TMF's conventions; they are converted once
at start-up to JSON Schema and compiled with fastjsonschema (generated Python,
far faster than interpreting the schema per request). Two TMF conventions are
made explicit on the way:

* ``@type`` may be omitted anywhere; the base type is assumed. At the top level
  a missing ``@type`` is filled in and an unknown one is refused.
* ``discriminator`` + ``oneOf`` becomes an ``if/then`` chain on ``@type`` so the
  error names the branch that failed instead of "matched none of oneOf".

The documents carry the service's input bounds (string lengths by kind, no NUL;
see :mod:`.bounds`), and ``date-time`` means an instant this service can
represent, so what is validated is what is served.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from ..domain.errors import InvalidBody
from ..domain.timestamps import RANGE
from .bounds import bound_contract, is_instant

CONTRACTS = {
    "productOrdering": "PSID622-ProductOrdering-v5.0.0.oas.json",
    "partyManagement": "PSID632-Party_Management-v5.0.0.oas.json",
    "productCatalogManagement": "PSID620-Product_Catalog_Management-v5.0.0.oas.json",
    "event": "PSID688-Event-v4.0.0.oas.json",
    "orderMonitoring": "PSS-OrderMonitoring-v1.oas.json",
    # TM Forum's TMF622 v4.0.0 (Swagger 2.0), for the v4 surface (api/routes/orders_v4.py)
    "productOrderingV4": "TMF622-ProductOrder-v4.0.0.swagger.json",
}
FORMATS = {"date-time": is_instant}
_DROPPED = frozenset({"discriminator", "example", "examples", "xml", "externalDocs", "nullable"})


@cache
def load_contract(api: str) -> dict[str, Any]:
    """The PSI document with this service's input bounds written in (:mod:`.bounds`)."""
    text = resources.files(__package__).joinpath("contract", CONTRACTS[api]).read_text()
    doc = json.loads(text)
    if "definitions" in doc and "components" not in doc:
        # Swagger 2.0 (TMF622 v4): its definitions are reached as OpenAPI 3 schemas.
        doc["components"] = {"schemas": doc["definitions"]}
    return bound_contract(doc)


def to_json_schema(node: Any) -> Any:
    """Convert an OpenAPI 3.0 schema node to JSON Schema draft-07."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        return {"$ref": "#/definitions/" + ref.rsplit("/", 1)[-1]}
    out = {k: to_json_schema(v) for k, v in node.items() if k not in _DROPPED}
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name != "@type"]
        if not out["required"]:
            del out["required"]
    mapping = (node.get("discriminator") or {}).get("mapping")
    if "oneOf" in out:
        branches = out.pop("oneOf")
        out.update(_discriminated(mapping, branches) if mapping else {"anyOf": branches})
    return out


def _discriminated(mapping: Mapping[str, str], branches: list[Any]) -> dict[str, Any]:
    chain: dict[str, Any] = {"anyOf": branches}
    for name, target in reversed(list(mapping.items())):
        chain = {
            "if": {"properties": {"@type": {"const": name}}, "required": ["@type"]},
            "then": {"$ref": "#/definitions/" + target.rsplit("/", 1)[-1]},
            "else": chain,
        }
    return chain


def schema_properties(schemas: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Top-level properties of a schema, following ``allOf`` references."""
    schema = schemas[name]
    found: dict[str, Any] = {}
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            found.update(schema_properties(schemas, part["$ref"].rsplit("/", 1)[-1]))
        else:
            found.update(part.get("properties") or {})
    return found


@dataclass(frozen=True, slots=True)
class BodySchema:
    """A compiled request schema with TMF's top-level conventions applied."""

    base_type: str
    allowed_types: frozenset[str]
    fields: frozenset[str]
    check: Callable[[Any], Any]

    def validate(self, body: Any, *, fill_type: bool = True) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidBody("the request body must be a JSON object")
        if fill_type and "@type" not in body:
            body["@type"] = self.base_type
        kind = body.get("@type", self.base_type)
        if not isinstance(kind, str) or kind not in self.allowed_types:
            raise InvalidBody(
                f"@type: unknown type {kind!r}, expected one of "
                + ", ".join(sorted(self.allowed_types))
            )
        unknown = sorted(set(body) - self.fields)
        if unknown:
            raise InvalidBody("unknown field(s): " + ", ".join(unknown))
        try:
            self.check(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidBody(_describe(exc)) from None
        return body


def _describe(exc: fastjsonschema.JsonSchemaValueException) -> str:
    name = str(exc.name or "data")
    path = name[len("data") :].lstrip(".") if name.startswith("data") else name
    message = str(exc.message)
    if message.startswith(name):
        message = message[len(name) :].strip()
    if message == "must be date-time":
        message += f" (RFC 3339, an instant {RANGE} in UTC)"
    return f"{path or '(body)'}: {message}"


@cache
def body_schema(api: str, name: str, base_type: str, partial: bool = False) -> BodySchema:
    """``partial``: the schema of a merge-patch body, whose top-level attributes are all
    optional (TMF622 v4's ``ProductOrder_Update`` requires ``productOrderItem``)."""
    schemas = load_contract(api)["components"]["schemas"]
    definitions = {key: to_json_schema(value) for key, value in schemas.items()}
    root = {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": definitions}
    root.update(copy.deepcopy(definitions[name]))
    if partial:
        root.pop("required", None)
    mapping = (schemas[name].get("discriminator") or {}).get("mapping") or {base_type: name}
    return BodySchema(
        base_type=base_type,
        allowed_types=frozenset(mapping),
        fields=frozenset(schema_properties(schemas, name)),
        check=fastjsonschema.compile(root, use_default=False, formats=FORMATS),
    )
