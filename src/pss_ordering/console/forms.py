"""From a console form to what the use cases take: an order body, or a patcher.

A patcher changes the caller's own view of the order, exactly as a merge patch
sent to the API would (``service.orders.OrderService.patch``); the use case then
judges the change by the same field rights and lifecycle. Nothing here decides
whether a change is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from ..domain import missing
from ..domain.identity import Role
from ..domain.lifecycle import State

Patcher = Callable[[dict[str, Any]], dict[str, Any]]
NUMERIC = {"number", "integer", "float"}
MAX_TEXT = 10_000  # the API's bound on a free-form string (README, Limits)


@dataclass(frozen=True, slots=True)
class CharacteristicField:
    """One input of the order form: a characteristic an offering uses."""

    offering_id: str
    name: str
    value_type: str
    required: bool

    @property
    def key(self) -> str:
        return f"char.{self.offering_id}.{self.name}"


@dataclass(frozen=True, slots=True)
class OfferingChoice:
    id: str
    name: str
    provider_id: str
    description: str
    fields: tuple[CharacteristicField, ...]


@dataclass
class OrderForm:
    """What the customer filled in, and what is wrong with it, by field key."""

    chosen: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def offering_choice(doc: Mapping[str, Any]) -> OfferingChoice:
    """An offering as the order form shows it (fields from ``prodSpecCharValueUse``)."""
    provider = next(
        (
            str((ref.get("partyOrPartyRole") or {}).get("id", ""))
            for ref in doc.get("relatedParty") or []
            if isinstance(ref, Mapping) and ref.get("role") == Role.PROVIDER
        ),
        "",
    )
    fields = tuple(
        CharacteristicField(
            str(doc["id"]),
            use["name"],
            str(use.get("valueType") or "string"),
            int(use.get("minCardinality") or 0) >= 1,
        )
        for use in doc.get("prodSpecCharValueUse") or []
        if isinstance(use, Mapping) and isinstance(use.get("name"), str)
    )
    return OfferingChoice(
        str(doc["id"]),
        str(doc.get("name") or doc["id"]),
        provider,
        str(doc.get("description") or ""),
        fields,
    )


def read_order_form(form: FormData, offerings: Sequence[OfferingChoice]) -> OrderForm:
    """The form's choices and values, checked before anything is sent to the use case:
    at least one offering, required characteristics given, numbers that are numbers."""
    result = OrderForm()
    known = {o.id: o for o in offerings}
    result.chosen = [str(v) for v in form.getlist("offering") if str(v) in known]
    for offering in offerings:
        for spec in offering.fields:
            value = str(form.get(spec.key) or "").strip()
            result.values[spec.key] = value[:MAX_TEXT]
            if offering.id not in result.chosen:
                continue
            if len(value) > MAX_TEXT:
                result.errors[spec.key] = f"at most {MAX_TEXT} characters"
            elif spec.required and not value:
                result.errors[spec.key] = f"{spec.name} is required for {offering.name}"
            elif value and spec.value_type in NUMERIC and not _is_number(value):
                result.errors[spec.key] = f"{spec.name} must be a number"
    for name in ("description", "billingAccount", "replaces"):
        result.values[name] = str(form.get(name) or "").strip()
        if len(result.values[name]) > MAX_TEXT:
            result.errors[name] = f"at most {MAX_TEXT} characters"
            result.values[name] = result.values[name][:MAX_TEXT]
    if not result.chosen:
        result.errors["offering"] = "choose at least one offering"
    return result


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def order_body(order: OrderForm, offerings: Sequence[OfferingChoice]) -> dict[str, Any]:
    """The ProductOrder_FVO the API would be sent for this form."""
    known = {o.id: o for o in offerings}
    items = []
    for number, offering_id in enumerate(order.chosen, start=1):
        item: dict[str, Any] = {
            "id": str(number),
            "action": "add",
            "productOffering": {"id": offering_id},
        }
        characteristics = [
            {"name": spec.name, "value": _typed(order.values[spec.key], spec.value_type)}
            for spec in known[offering_id].fields
            if order.values.get(spec.key)
        ]
        if characteristics:
            item["product"] = {"productCharacteristic": characteristics}
        items.append(item)
    body: dict[str, Any] = {"productOrderItem": items}
    if order.values.get("description"):
        body["description"] = order.values["description"]
    if order.values.get("billingAccount"):
        body["billingAccount"] = {"id": order.values["billingAccount"]}
    if order.values.get("replaces"):
        body["orderRelationship"] = [
            {"relationshipType": "replaces", "id": order.values["replaces"]}
        ]
    return body


def _typed(value: str, value_type: str) -> Any:
    if value_type == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if value_type in ("number", "float"):
        return float(value)
    return value


def field_of_error(message: str, order: OrderForm, offerings: Sequence[OfferingChoice]) -> str:
    """The form field an API error names (a characteristic, the billing account...);
    '' when it names none, so the message shows above the form."""
    for offering in offerings:
        if offering.id in order.chosen:
            for spec in offering.fields:
                if spec.name in message:
                    return spec.key
    for name in ("billingAccount", "orderRelationship", "description"):
        if name in message:
            return "replaces" if name == "orderRelationship" else name
    for offering in offerings:
        if offering.id in message:
            return "offering"
    return ""


def prefilled(doc: Mapping[str, Any]) -> OrderForm:
    """A new order's form filled from an existing order (a replacement)."""
    result = OrderForm()
    for item in doc.get("productOrderItem") or []:
        offering_id = str((item.get("productOffering") or {}).get("id", ""))
        result.chosen.append(offering_id)
        for char in (item.get("product") or {}).get("productCharacteristic") or []:
            if isinstance(char, Mapping) and "name" in char:
                result.values[f"char.{offering_id}.{char['name']}"] = str(char.get("value", ""))
    result.values["description"] = str(doc.get("description") or "")
    result.values["billingAccount"] = str((doc.get("billingAccount") or {}).get("id", ""))
    result.values["replaces"] = str(doc.get("id", ""))
    return result


# --- patchers: one per console action -------------------------------------------------


def _item(doc: dict[str, Any], item_id: str) -> dict[str, Any]:
    for item in doc.get("productOrderItem") or []:
        if item.get("id") == item_id:
            return item  # type: ignore[no-any-return]
    return {}


def supply(item_id: str, name: str, value: str) -> Patcher:
    """The customer gives a characteristic a provider (or the offering) asked for."""

    def patch(doc: dict[str, Any]) -> dict[str, Any]:
        item = _item(doc, item_id)
        chars = item.setdefault("product", {}).setdefault("productCharacteristic", [])
        for char in chars:
            if char.get("name") == name:
                char["value"] = value
                return doc
        chars.append({"name": name, "value": value})
        return doc

    return patch


def set_fields(**values: Any) -> Patcher:
    """Top-level fields set (a merge patch of them)."""

    def patch(doc: dict[str, Any]) -> dict[str, Any]:
        doc.update(values)
        return doc

    return patch


def add_note(text: str) -> Patcher:
    def patch(doc: dict[str, Any]) -> dict[str, Any]:
        doc.setdefault("note", []).append({"text": text})
        return doc

    return patch


def move_item(item_id: str, state: str, reason: str = "") -> Patcher:
    """A provider moves one of its items; a rejection carries its reason as an error
    message on that item."""

    def patch(doc: dict[str, Any]) -> dict[str, Any]:
        _item(doc, item_id)["state"] = state
        if state == State.REJECTED and reason:
            _error_message(doc, item_id, State.REJECTED, "Rejected by the provider", reason)
        return doc

    return patch


def ask_information(item_id: str, characteristic: str, explanation: str) -> Patcher:
    """A provider asks for a characteristic: its item back to pending with an
    ``informationRequired`` message naming the field (seed 001)."""

    def patch(doc: dict[str, Any]) -> dict[str, Any]:
        _item(doc, item_id)["state"] = State.PENDING
        _error_message(
            doc,
            item_id,
            missing.CODE,
            explanation or f"please supply {characteristic}",
            missing.characteristic_path(characteristic),
        )
        return doc

    return patch


def _error_message(doc: dict[str, Any], item_id: str, code: str, reason: str, message: str) -> None:
    doc.setdefault("productOrderErrorMessage", []).append(
        {
            "code": code,
            "reason": reason,
            "message": message,
            "productOrderItem": [{"productOrderItemId": item_id}],
        }
    )


def missing_characteristics(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(item id, characteristic name, explanation) of each piece of information the
    order waits for that the customer can supply in a form field."""
    found = []
    for entry in doc.get("productOrderErrorMessage") or []:
        if not isinstance(entry, Mapping) or entry.get("code") != missing.CODE:
            continue
        try:
            path, criteria = missing.parse_field_path(str(entry.get("message", "")))
        except ValueError:
            continue
        if ".".join(path) != f"{missing.CHARACTERISTIC_PATH}.value" or "name" not in criteria:
            continue
        for ref in entry.get("productOrderItem") or []:
            item_id = str(ref.get("productOrderItemId", ""))
            found.append((item_id, criteria["name"], str(entry.get("reason") or "")))
    return found
