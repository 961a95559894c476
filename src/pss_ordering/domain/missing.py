"""Information required (seed 001's orderInformationRequiredNotification).

What is missing is expressed as the seed does: a ``resourcePath`` (the order,
or one of its items) and a ``fieldPath`` in the style of a GET filter,
``missing=<dot path>&<criterion>``, e.g.
``missing=product.productCharacteristic.value&name=IMEI``. The same path is
used to decide when the information has been supplied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import Offering

CODE = "informationRequired"
#: A provider refusing a change it was told of (``refusals.py``): the customer must
#: give another value, which it learns as missing information.
REFUSED = "changeRefused"
CHARACTERISTIC_PATH = "product.productCharacteristic"


@dataclass(frozen=True, slots=True)
class Missing:
    """One piece of missing information; ``item_id`` None means the order itself.

    ``refused``: the value a provider refused (as JSON text), when this is a refused
    change: then any other value supplies it."""

    item_id: str | None
    field_path: str
    reporter: str
    refused: str | None = None

    def supplied_by(self, resource: Mapping[str, Any]) -> bool:
        if self.refused is None:
            return is_supplied(resource, self.field_path)
        path, criteria = parse_field_path(self.field_path)
        values = [json_text(v) for v in _follow(resource, path, criteria)] or [json_text(None)]
        return self.refused not in values

    def resource_path(self, order_id: str) -> str:
        base = f"/productOrder/{order_id}"
        return base if self.item_id is None else f"{base}/productOrderItem/{self.item_id}"

    def as_json(self) -> dict[str, Any]:
        raw = {"itemId": self.item_id, "fieldPath": self.field_path, "reporter": self.reporter}
        return raw if self.refused is None else {**raw, "refused": self.refused}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Missing:
        return cls(
            raw.get("itemId"),
            str(raw["fieldPath"]),
            str(raw.get("reporter", "pss")),
            raw.get("refused"),
        )


def json_text(value: Any) -> str:
    """A value as canonical JSON text, to compare values kept in the order's meta."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def characteristic_path(name: str) -> str:
    return f"missing={CHARACTERISTIC_PATH}.value&name={name}"


def required_but_missing(
    items: Sequence[Mapping[str, Any]], offerings: Mapping[str, Offering]
) -> list[Missing]:
    """Characteristics an ``add`` item's offering requires and the item does not give."""
    found: list[Missing] = []
    for item in items:
        offering = offerings.get((item.get("productOffering") or {}).get("id", ""))
        if item.get("action") != "add" or offering is None:
            continue
        for name, _value_type in offering.required_characteristics:
            candidate = Missing(item["id"], characteristic_path(name), "pss")
            if not is_supplied(item, candidate.field_path):
                found.append(candidate)
    return found


def parse_field_path(field_path: str) -> tuple[list[str], dict[str, str]]:
    """``missing=a.b.c&k=v`` -> (["a", "b", "c"], {"k": "v"}); ValueError if malformed."""
    parts = [p for p in field_path.split("&") if p]
    if not parts or not parts[0].startswith("missing=") or len(parts[0]) <= len("missing="):
        raise ValueError(f"fieldPath '{field_path}' must start with 'missing=<path>'")
    path = parts[0][len("missing=") :].split(".")
    criteria: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"fieldPath criterion '{part}' must be 'name=value'")
        criteria[key] = value
    return path, criteria


def is_supplied(resource: Mapping[str, Any], field_path: str) -> bool:
    """True when the resource has a non-empty value where the fieldPath points."""
    path, criteria = parse_field_path(field_path)
    return any(value not in (None, "", [], {}) for value in _follow(resource, path, criteria))


def _follow(node: Any, path: list[str], criteria: Mapping[str, str]) -> Iterator[Any]:
    """Values at ``path``; the criteria select the object that holds the last attribute."""
    if isinstance(node, list):
        for element in node:
            yield from _follow(element, path, criteria)
        return
    if not isinstance(node, Mapping):
        return
    if len(path) > 1:
        if path[0] in node:
            yield from _follow(node[path[0]], path[1:], criteria)
        return
    if path[0] in node and all(str(node.get(k)) == v for k, v in criteria.items()):
        yield node[path[0]]


def error_message(missing: Missing, now: str) -> dict[str, Any]:
    """How a piece of missing information is shown on the order itself."""
    entry: dict[str, Any] = {
        "@type": "ProductOrderErrorMessage",
        "code": CODE,
        "reason": "Information required",
        "message": missing.field_path,
        "timestamp": now,
    }
    if missing.item_id is not None:
        entry["productOrderItem"] = [
            {"@type": "ProductOrderItemRef", "productOrderItemId": missing.item_id}
        ]
    return entry


def reported(entry: Any) -> tuple[list[str], str] | None:
    """A provider's error message that names missing information: (item ids, fieldPath).

    Raises ValueError when it claims to (code or ``missing=``) but the path is malformed.
    """
    if not isinstance(entry, Mapping) or entry.get("code") == REFUSED:
        return None
    message = entry.get("message")
    if not isinstance(message, str) or not (
        entry.get("code") == CODE or message.startswith("missing=")
    ):
        return None
    parse_field_path(message)
    refs = entry.get("productOrderItem") or []
    return [
        str(r["productOrderItemId"])
        for r in refs
        if isinstance(r, Mapping) and r.get("productOrderItemId") is not None
    ], message
