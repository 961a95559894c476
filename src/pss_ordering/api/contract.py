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
from ..domain.query import Attribute
from ..domain.timestamps import RANGE
from .bounds import bound_contract, is_instant

CONTRACTS = {
    "productOrdering": "PSID622-ProductOrdering-v5.0.0.oas.json",
    "partyManagement": "PSID632-Party_Management-v5.0.0.oas.json",
    "productCatalogManagement": "PSID620-Product_Catalog_Management-v5.0.0.oas.json",
    "event": "PSID688-Event-v4.0.0.oas.json",
    "orderMonitoring": "PSS-OrderMonitoring-v1.oas.json",
}
FORMATS = {"date-time": is_instant}
_DROPPED = frozenset({"discriminator", "example", "examples", "xml", "externalDocs", "nullable"})


# Where a PSI file contradicts itself, the service follows the file's own example and
# serves the corrected schema (README "Deviations from the PSI files"): per API, the
# properties whose declared type is replaced.
DEVIATIONS: dict[str, dict[str, dict[str, Any]]] = {
    # PSID620 declares accessProbability an integer between 0 and 1 whose example is
    # 0.75 (a probability): the served document failed openapi-spec-validator and the
    # example itself was refused. It is a number between 0 and 1.
    "productCatalogManagement": {"accessProbability": {"type": "number"}},
}


@cache
def load_contract(api: str) -> dict[str, Any]:
    """The PSI document with its :data:`DEVIATIONS` corrected and this service's input
    bounds written in (:mod:`.bounds`)."""
    text = resources.files(__package__).joinpath("contract", CONTRACTS[api]).read_text()
    doc = json.loads(text)
    for schema in doc.get("components", {}).get("schemas", {}).values():
        for part in [schema, *schema.get("allOf", [])]:
            for name, fix in DEVIATIONS.get(api, {}).items():
                if name in (part.get("properties") or {}):
                    part["properties"][name].update(fix)
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
def body_schema(api: str, name: str, base_type: str) -> BodySchema:
    schemas = load_contract(api)["components"]["schemas"]
    definitions = {key: to_json_schema(value) for key, value in schemas.items()}
    root = {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": definitions}
    root.update(copy.deepcopy(definitions[name]))
    mapping = (schemas[name].get("discriminator") or {}).get("mapping") or {base_type: name}
    return BodySchema(
        base_type=base_type,
        allowed_types=frozenset(mapping),
        fields=frozenset(schema_properties(schemas, name)),
        check=fastjsonschema.compile(root, use_default=False, formats=FORMATS),
    )


@cache
def query_shape(api: str, name: str) -> dict[str, Attribute]:
    """What a query on the ``name`` resource may name (paths, enumerated values), from the
    contract: references followed, ``allOf`` parts and every ``oneOf``/``anyOf`` branch
    and discriminated subtype joined, arrays stepped through (a query reaches into list
    elements), an object without declared properties left open."""
    shape = _ShapeBuilder(load_contract(api)["components"]["schemas"])
    return dict(shape.attribute([{"$ref": f"#/components/schemas/{name}"}]).children)


_SCALARS = frozenset({"string", "number", "integer", "boolean"})


class _ShapeBuilder:
    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = schemas

    def attribute(self, nodes: list[Any]) -> Attribute:
        """The attribute the schema ``nodes`` (alternatives) describe; its children are
        worked out when a query first walks into it."""
        parts = [part for node in nodes for part in self._parts(node, set())]
        properties: dict[str, list[Any]] = {}
        for part in parts:
            for prop, schema in (part.get("properties") or {}).items():
                properties.setdefault(prop, []).append(schema)
        if not properties:
            return self._value(parts)
        return Attribute(
            children=lambda: {prop: self.attribute(found) for prop, found in properties.items()}
        )

    @staticmethod
    def _value(parts: list[dict[str, Any]]) -> Attribute:
        enums = [part.get("enum") for part in parts]
        if parts and all(isinstance(e, list) for e in enums):
            return Attribute(values=frozenset(str(v).strip() for e in enums for v in e or ()))
        if parts and all(part.get("type") in _SCALARS for part in parts):
            return Attribute()
        return Attribute(open=True)  # an object (or anything) the contract leaves free

    def _parts(self, node: Any, seen: set[str]) -> list[dict[str, Any]]:
        """The plain schema parts a node stands for (references, allOf, oneOf, anyOf and
        discriminator subtypes expanded)."""
        if not isinstance(node, dict):
            return []
        if node.get("type") == "array":  # a query reaches into the elements
            return self._parts(node.get("items"), seen)
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen or name not in self._schemas:
                return []
            seen.add(name)
            schema = self._schemas[name]
            mapping = (schema.get("discriminator") or {}).get("mapping") or {}
            found = self._parts(schema, seen)
            for target in mapping.values():
                found.extend(self._parts({"$ref": target}, seen))
            return found
        combinators = ("allOf", "oneOf", "anyOf")
        wrapper = any(c in node for c in combinators) and not (
            {"type", "properties", "enum"} & node.keys()
        )
        found = [] if wrapper else [node]
        for combinator in combinators:
            for branch in node.get(combinator) or ():
                found.extend(self._parts(branch, seen))
        return found


@cache
def hub_query_shapes() -> dict[str, tuple[dict[str, Attribute], dict[str, Attribute]]]:
    """Per topic whose events carry a resource the contract describes, what a
    registration's query may name: the envelope (PSID688 ``Event``, its ``event``
    holding the resource, and seed 001's ``resourcePath``/``fieldPath``), and the
    resource itself (``event.productOrder`` on the ``order`` topic)."""
    order = query_shape("productOrdering", "ProductOrder")
    envelope = {
        **query_shape("event", "Event"),
        "event": Attribute(children={"productOrder": Attribute(children=order)}),
        "resourcePath": Attribute(),
        "fieldPath": Attribute(),
    }
    return {"order": (envelope, order)}
