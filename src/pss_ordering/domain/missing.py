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

from .catalog import REQUIRED_ORDER_FIELD, Offering
from .field_rights import REQUESTABLE_FIELDS
from .identity import Role
from .timestamps import Instant

CODE = "informationRequired"
#: A provider refusing a change it was told of (``refusals.py``): the customer must
#: give another value, which it learns as missing information.
REFUSED = "changeRefused"
CHARACTERISTIC_PATH = "product.productCharacteristic"


@dataclass(frozen=True, slots=True)
class Missing:
    """One piece of missing information; ``item_id`` None means the order itself.

    ``concerns``: for the order itself, the providers the request is about (the one
    that asked, or those whose offerings require the field); need-to-know: no other
    provider sees it. An item's request concerns the item's provider.
    ``refused``: the value a provider refused (as JSON text), when this is a refused
    change: then any other value supplies it.
    """

    item_id: str | None
    field_path: str
    reporter: str
    concerns: frozenset[str] = frozenset()
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
        out: dict[str, Any] = {
            "itemId": self.item_id,
            "fieldPath": self.field_path,
            "reporter": self.reporter,
        }
        if self.concerns:
            out["concerns"] = sorted(self.concerns)
        if self.refused is not None:
            out["refused"] = self.refused
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Missing:
        return cls(
            raw.get("itemId"),
            str(raw["fieldPath"]),
            str(raw.get("reporter", Role.PSS)),
            frozenset(raw.get("concerns") or ()),
            raw.get("refused"),
        )

    @property
    def order_field(self) -> str | None:
        """The order's own field this asks for (None for an item's information)."""
        return None if self.item_id is not None else parse_field_path(self.field_path)[0][0]


def json_text(value: Any) -> str:
    """A value as canonical JSON text, to compare values kept in the order's meta."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def characteristic_path(name: str) -> str:
    return f"missing={CHARACTERISTIC_PATH}.value&name={name}"


def order_field_path(name: str) -> str:
    return f"missing={name}"


def required_but_missing(
    doc: Mapping[str, Any], offerings: Mapping[str, Offering]
) -> list[Missing]:
    """What the PSS's own rules find missing in an order going to its providers:
    characteristics an ``add`` item's offering requires and the item does not give,
    and order fields an offering of any item requires (``Offering.required_order_fields``)
    that the order does not give, each concerning the providers of those offerings."""
    found: list[Missing] = []
    needed: dict[str, set[str]] = {}
    items: Sequence[Mapping[str, Any]] = doc.get("productOrderItem") or []
    for item in items:
        offering = offerings.get((item.get("productOffering") or {}).get("id", ""))
        if offering is None:
            continue
        for field in offering.required_order_fields:
            needed.setdefault(field, set()).add(offering.provider_id)
        if item.get("action") != "add":
            continue
        for name, _value_type in offering.required_characteristics:
            candidate = Missing(item["id"], characteristic_path(name), Role.PSS)
            if not is_supplied(item, candidate.field_path):
                found.append(candidate)
    for field, providers in sorted(needed.items()):
        if not is_supplied(doc, order_field_path(field)):
            found.append(Missing(None, order_field_path(field), Role.PSS, frozenset(providers)))
    return found


def is_order_request(entry: Any) -> bool:
    """An error message asking for information about the order itself (no item named)."""
    return (
        isinstance(entry, Mapping)
        and entry.get("code") == CODE
        and not entry.get("productOrderItem")
    )


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


def error_message(missing: Missing, now: Instant) -> dict[str, Any]:
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


def render_markdown() -> list[str]:
    """The "Information required" section of ``docs/LIFECYCLE.md``."""
    return [
        "## Information required",
        "",
        "An order waits for information its customer must supply, about one item",
        "(`resourcePath` `/productOrder/{id}/productOrderItem/{itemId}`) or about the",
        "order itself (`/productOrder/{id}`); `fieldPath` is `missing=<path>`, e.g.",
        "`missing=notificationContact`. Each request is shown on the order as a",
        f"`productOrderErrorMessage` with code `{CODE}` (naming the item, if any) and",
        "raises an `orderInformationRequiredNotification`.",
        "",
        "| asked by | how | items that wait (pending) |",
        "|---|---|---|",
        "| provider | PATCH: an error message (with or without `productOrderItem`) and its"
        " items to `pending` | the named item; for the order, all its open items |",
        "| provider | event `orderInformationRequiredNotification` with `resourcePath`"
        " and `fieldPath` | the same, moved by the event |",
        "| PSS | an `add` item lacks a characteristic its offering requires"
        " (`minCardinality >= 1`) | the item (still pending) |",
        f"| PSS | the order lacks a field an offering requires (`productOfferingTerm`"
        f" `{REQUIRED_ORDER_FIELD}`, the field as `description`) | all (still pending) |",
        "",
        "Order fields that may be asked for (and that the owner may write while they",
        "are asked for, even once submitted): "
        + ", ".join(f"`{f}`" for f in sorted(REQUESTABLE_FIELDS))
        + ".",
        "",
        "The owner supplies by PATCH; once nothing is missing, the items resume the",
        "state they had. Not supplied within `PSS_INFO_REQUIRED_TIMEOUT` (or the",
        "shortest `informationRequiredTimeout` term of the order's offerings), the",
        "order is cancelled automatically.",
        "",
        "Who sees a request and its event: the order's customer side and governance;",
        "a provider, the requests about its items and those about the order that",
        "concern it (it asked, or its offering requires the field); no other.",
        "",
    ]
