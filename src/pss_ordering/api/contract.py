"""The PSI OpenAPI documents: request validation and the contract the service serves.

The ICD schemas are OpenAPI 3.0 with TMF's conventions; they are converted once
at start-up to JSON Schema and compiled with jsonschema-rs (a compiled validator:
a valid two-item order costs ~5 µs, and an invalid one is walked for *every*
error, not only the first; see "Validation errors" in ARCHITECTURE.md). Two TMF
conventions are made explicit on the way:

* ``@type`` may be omitted anywhere; the base type is assumed. At the top level
  a missing ``@type`` is filled in and an unknown one is refused.
* ``discriminator`` + ``oneOf`` becomes an ``if/then`` chain on ``@type`` so the
  error names the branch that failed instead of "matched none of oneOf"; without
  ``@type``, the error names the branch the data came closest to (:func:`describe`).

The documents carry the service's input bounds (string lengths by kind, no NUL;
see :mod:`.bounds`), and ``date-time`` means an instant this service can
represent, so what is validated is what is served.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from ..domain.errors import Detail, InvalidBody
from ..domain.problems import Problems, json_path, within
from ..domain.query import Attribute
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
#: A ``uri`` is judged as it always was here (a scheme, then no blank): TMF clients and
#: the ICD's own examples send placeholders such as ``https://host:port/...``, which an
#: RFC 3986 parser refuses although nothing in the service dereferences an href.
_URI = re.compile(r"^\w+:(/?/?)[^\s]+\Z")
FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": is_instant,
    "uri": lambda text: _URI.match(text) is not None,
}
#: ``code`` of schema problems in an error's ``details``.
SCHEMA, TYPE, UNKNOWN = "schema", "unknownType", "unknownField"
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
    if "definitions" in doc and "components" not in doc:
        # Swagger 2.0 (TMF622 v4): its definitions are reached as OpenAPI 3 schemas.
        doc["components"] = {"schemas": doc["definitions"]}
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


#: A body's own shape rules beyond its schema (e.g. who writes which field), run with it.
ShapeRules = Callable[[Mapping[str, Any], Problems], None]
#: At most this many problems are listed; a hostile body cannot make an answer grow.
MAX_DETAILS = 50


@dataclass(frozen=True, slots=True)
class BodySchema:
    """A compiled request schema with TMF's top-level conventions applied."""

    base_type: str
    allowed_types: frozenset[str]
    fields: frozenset[str]
    root: Mapping[str, Any]
    validator: jsonschema_rs.Validator

    def validate(
        self,
        body: Any,
        *,
        fill_type: bool = True,
        rules: ShapeRules | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The body, if it is valid; else InvalidBody naming every problem (``details``).

        ``rules`` are the body's own shape rules (a create names server-set and
        read-only fields as such; ``relatedParty`` entries must have one meaning);
        unknown fields and schema errors at or under a path they already named are
        not repeated.
        ``aliases`` are an older version's names of fields (``orderItem``): such a
        field is refused, and its content checked as the field it stands for, so
        the one answer also names what renaming it would not fix.
        """
        if not isinstance(body, dict):
            raise InvalidBody("the request body must be a JSON object")
        if fill_type and "@type" not in body:
            body["@type"] = self.base_type
        renamed: dict[str, str] = {
            new: old for old, new in (aliases or {}).items() if old in body and new not in body
        }
        if renamed:
            to_new = {old: new for new, old in renamed.items()}
            sent: dict[str, Any] = body
            problems = self._judge({to_new.get(k, k): v for k, v in sent.items()}, rules)
            problems.renamed(renamed, UNKNOWN, "TMF622 v5 calls this field {new}")
        else:
            problems = self._judge(body, rules)
        problems.raise_if_any()
        return body

    def _judge(self, body: dict[str, Any], rules: ShapeRules | None) -> Problems:
        problems = Problems()
        kind = body.get("@type", self.base_type)
        if not isinstance(kind, str) or kind not in self.allowed_types:
            expected = ", ".join(sorted(self.allowed_types))
            problems.add(
                InvalidBody, ["@type"], f"unknown type {kind!r}, expected one of {expected}", TYPE
            )
        if rules is not None:
            rules(body, problems)
        named = problems.paths()
        for name in sorted(set(body) - self.fields):
            if json_path([name]) not in named:
                problems.add(InvalidBody, [name], f"not a field of {self.base_type}", UNKNOWN)
        if not self.validator.is_valid(body):
            self._schema_problems(body, problems)
        return problems

    def _schema_problems(self, body: dict[str, Any], problems: Problems) -> None:
        named = problems.paths()
        seen: set[str] = set()  # one problem per value: its first (a type before an enum)
        for error in self.validator.iter_errors(body):
            for detail in describe(error, self.root):
                if detail.path in seen or any(within(detail.path, path) for path in named):
                    continue
                seen.add(detail.path)
                if len(seen) > MAX_DETAILS:
                    return
                problems.add(InvalidBody, detail.path, detail.reason, detail.code)


def describe(error: jsonschema_rs.ValidationError, root: Mapping[str, Any]) -> list[Detail]:
    """An error as details: the path of the value that breaks the schema and why.

    An ``anyOf`` (a ``oneOf`` without discriminator, or a discriminated one whose
    ``@type`` is absent) that no branch accepts is read as the branch the data
    came closest to, the one whose first problem lies deepest in the data (then
    the one with problems at fewest places, then the first): its problems are
    listed, naming that branch.
    """
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AnyOf):
        names = _branch_names(root, list(error.schema_path))
        scored = [
            (min(len(e.instance_path) for e in branch), -_places(branch), -index, branch)
            for index, branch in enumerate(kind.context)
            if branch
        ]
        if scored:
            *_, negative_index, branch = max(scored, key=lambda score: score[:3])
            index = -negative_index
            closest = names[index] if index < len(names) else f"branch {index + 1}"
            others = ", ".join(n for n in names if n != closest)
            note = f" (read as {closest}, the closest match; not {others})" if others else ""
            return [
                Detail(d.path, d.reason + note, d.code) for e in branch for d in describe(e, root)
            ]
    path = list(error.instance_path)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [Detail(json_path([*path, str(kind.property)]), "is required", "required")]
    reason = _reason(error.message, error.instance)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Format) and kind.format == "date-time":
        reason = f"must be date-time (RFC 3339, an instant {RANGE} in UTC)"
    return [Detail(json_path(path), reason, SCHEMA)]


def _places(errors: list[jsonschema_rs.ValidationError]) -> int:
    """How many values a branch's errors are about (an ``allOf`` may repeat one)."""
    return len({tuple(e.instance_path) for e in errors})


def _reason(message: str, instance: Any) -> str:
    """The validator's message without the (possibly long) value it starts with."""
    for sort_keys in (False, True):
        shown = json.dumps(instance, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
        if message.startswith(shown):
            return message[len(shown) :].strip()
    return message if len(message) <= 200 else message[:200] + "..."


def _branch_names(root: Mapping[str, Any], schema_path: list[Any]) -> list[str]:
    """The names of the branches of the ``anyOf`` at ``schema_path`` (``$ref`` followed)."""
    node: Any = root
    for step in schema_path:
        while isinstance(node, Mapping) and step not in node and "$ref" in node:
            node = root["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return []
    return [
        str(branch["$ref"]).rsplit("/", 1)[-1].removesuffix("_FVO").removesuffix("_MVO")
        if isinstance(branch, Mapping) and "$ref" in branch
        else f"branch {index + 1}"
        for index, branch in enumerate(node if isinstance(node, list) else [])
    ]


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
        root=root,
        validator=jsonschema_rs.validator_for(root, formats=FORMATS, validate_formats=True),
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
