"""A provider's answer to an owner's change of what it already acknowledged.

When the customer (or its PSS) changes a field a provider has acknowledged — an
order-level field such as ``billingAccount`` once any of the provider's items is
acknowledged, or a field of one of its acknowledged items — the provider is told
by an ``orderValueChangeNotification`` of its own view (``notifications.py``), and
the change is *unconfirmed* for that provider until it answers:

* **accept** — tacitly: the change is in force from the moment it is made; the
  provider accepts it for good by moving any of its items on (to any state but
  ``pending``), or simply by never refusing;
* **refuse** — in the PATCH (or event) that moves the items concerned to
  ``pending``, an appended ``productOrderErrorMessage`` with ``code`` ``changeRefused``,
  its ``reason`` (required, for the customer), ``message`` naming the field in the
  seed's form (``missing=billingAccount``) and ``productOrderItem`` the provider's
  items that go back to the customer. The field of the item named (if that item's
  field changed) or else of the order is then *missing* in the seed's sense:
  the customer receives an ``orderInformationRequiredNotification`` with that
  ``resourcePath`` and ``fieldPath``, the auto-cancel timer runs, and any value
  other than the refused one supplies it — the items resume where they were, and
  the new value is again a change the provider may refuse.

A provider can refuse only a change it was told of and has not accepted yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import BusinessRuleViolation
from .lifecycle import State
from .missing import REFUSED, Missing, json_text, parse_field_path
from .orders import ProductOrder

Change = tuple[str | None, str]
#: Notes are messages to the provider, not terms it could refuse.
UNREFUSABLE = frozenset({"note"})


def record_changes(
    order: ProductOrder, fields: Iterable[str], item_fields: Mapping[str, Iterable[str]]
) -> None:
    """The owner changed ``fields`` of the order and ``item_fields`` of items: each
    provider that acknowledged what changed may now refuse it."""
    order_fields = [name for name in fields if name not in UNREFUSABLE]
    for provider in sorted(order.provider_ids):
        acknowledged = {i for i in order.items_of(provider) if i in order.acknowledged}
        if not acknowledged:
            continue
        changes: list[Change] = [(None, name) for name in order_fields]
        changes += [
            (item_id, name)
            for item_id, names in item_fields.items()
            if item_id in acknowledged
            for name in names
            if name not in UNREFUSABLE
        ]
        known = order.unconfirmed.setdefault(provider, [])
        known += [change for change in changes if change not in known]
        if not known:
            del order.unconfirmed[provider]


def accepted(order: ProductOrder, provider_id: str) -> None:
    """The provider moved its work on: it accepts every change it was told of."""
    order.unconfirmed.pop(provider_id, None)


def refusals(
    order: ProductOrder, provider_id: str, entries: Iterable[Any], moves: Mapping[str, str]
) -> list[Missing]:
    """What the provider's ``changeRefused`` messages send back to the customer (422 for a
    refusal of nothing it was told of, without a reason, or leaving its items as they are)."""
    found: list[Missing] = []
    open_changes = order.unconfirmed.get(provider_id, [])
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("code") != REFUSED:
            continue
        where = "productOrderErrorMessage (changeRefused)"
        reason, message = entry.get("reason"), entry.get("message")
        if not isinstance(reason, str) or not reason.strip():
            raise BusinessRuleViolation(f"{where}: 'reason' tells the customer why; it is required")
        try:
            path, criteria = parse_field_path(message if isinstance(message, str) else "")
        except ValueError:
            path, criteria = [], {}
        if len(path) != 1 or criteria:
            raise BusinessRuleViolation(
                f"{where}: 'message' names the refused field as missing=<field>"
            )
        refs = entry.get("productOrderItem")
        items = [
            str(ref.get("productOrderItemId"))
            for ref in (refs if isinstance(refs, list) else [])
            if isinstance(ref, Mapping)
        ]
        for item_id in items:
            if moves.get(item_id, order.item(item_id).get("state")) != State.PENDING:
                raise BusinessRuleViolation(
                    f"{where}: refusing a change puts productOrderItem '{item_id}' in state pending"
                )
        change = _refused_change(open_changes, items, path[0])
        if change is None:
            raise BusinessRuleViolation(
                f"{where}: no change of '{path[0]}' on these items awaits this provider's answer"
            )
        refused_item, name = change
        resource = order.doc if refused_item is None else order.item(refused_item)
        found.append(
            Missing(
                refused_item,
                str(message),
                provider_id,
                # An order-level refusal concerns the provider that refused, alone.
                concerns=frozenset({provider_id}) if refused_item is None else frozenset(),
                refused=json_text(resource.get(name)),
            )
        )
    for missing in found:
        change = (missing.item_id, parse_field_path(missing.field_path)[0][0])
        if change in open_changes:
            open_changes.remove(change)
    if provider_id in order.unconfirmed and not open_changes:
        del order.unconfirmed[provider_id]
    return found


def _refused_change(open_changes: list[Change], items: list[str], name: str) -> Change | None:
    """The change refused: of the field on one of the items named, else on the order."""
    for item_id in items:
        if (item_id, name) in open_changes:
            return item_id, name
    return (None, name) if (None, name) in open_changes else None
