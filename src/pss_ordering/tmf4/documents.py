"""TMF622 v4 product orders to and from v5 (PSID622) product orders.

What differs, and how it is mapped (docs/ARCHITECTURE.md, "The v4 surface"):

* ``orderDate`` is v5's ``creationDate``.
* ``relatedParty`` is flat in v4 (``{id, href, name, role, @referredType}``) and
  ``{role, partyOrPartyRole: {id, href, name, @referredType, @type}}`` in v5; a v4
  ``@referredType`` of ``PartyRole`` is a v5 ``PartyRoleRef``, anything else a
  ``PartyRef``. The same mapping applies to a product's ``relatedParty``.
* ``externalId`` is one string in v4 and a list of ``ExternalIdentifier`` in v5:
  v4 shows the first one's ``id``.
* ``productOrderItem.product`` is one flat shape in v4; v5 tells a reference
  (``ProductRef``: only ``id``, ``href``, ``name``, ``@referredType``) from a value
  (``Product``). A v4 ``productRelationship`` names its product by value; v5 by
  reference (``id``, ``href``, ``name``).
* States: v4 has no ``draft``; a draft order is shown as ``pending`` (every other
  order and item state is the same word in both).
* v5-only attributes (milestones, error messages, jeopardy alerts, order
  relationships, ``requestedInitialState``; an item's ``note``,
  ``requestedStartDate``, ``requestedEndDate``) are not shown in v4.

A v4 update is applied to the v4 form of the caller's v5 view and put back with
:func:`order_to_v5` given the view it came from: whatever the v4 document left as
it was keeps its v5 form, so what v4 cannot express (further external ids, the
v5-only attributes, a party role's ``partyId``) survives a v4 PATCH unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ..domain.lifecycle import State

Doc = dict[str, Any]

V5_ONLY_ORDER = (
    "productOrderMilestone",
    "productOrderErrorMessage",
    "productOrderJeopardyAlert",
    "orderRelationship",
    "requestedInitialState",
)
V5_ONLY_ITEM = ("note", "requestedStartDate", "requestedEndDate")
#: v5 states v4 does not have, and the v4 state shown instead.
STATES_TO_V4 = {"draft": State.PENDING}
#: Attribute names that differ (v4 -> v5); the rest are the same word.
RENAMED = {"orderDate": "creationDate"}
_SHOWN_AS = {v5: v4 for v4, v5 in RENAMED.items()}
_REFERENCE_KEYS = frozenset({"id", "href", "name", "@referredType", "@type"})


def order_to_v4(doc: Mapping[str, Any]) -> Doc:
    """The v4 document of a v5 order (a caller's view of it)."""
    out: Doc = {}
    for key, value in doc.items():
        if key in V5_ONLY_ORDER:
            continue
        if key == "creationDate":
            out["orderDate"] = value
        elif key == "externalId":
            first = external_id_to_v4(value)
            if first is not None:
                out["externalId"] = first
        elif key == "relatedParty":
            out[key] = [party_to_v4(p) for p in _dicts(value)]
        elif key == "productOrderItem":
            out[key] = [item_to_v4(i) for i in _dicts(value)]
        elif key == "state":
            out[key] = state_to_v4(value)
        else:
            out[key] = value
    out.setdefault("relatedParty", [])
    out.setdefault("productOrderItem", [])
    return out


def state_to_v4(state: Any) -> Any:
    return STATES_TO_V4.get(state, state) if isinstance(state, str) else state


def external_id_to_v4(value: Any) -> str | None:
    first = next(iter(_dicts(value)), None)
    ident = None if first is None else first.get("id")
    return ident if isinstance(ident, str) else None


def party_to_v4(related: Mapping[str, Any]) -> Doc:
    ref = related.get("partyOrPartyRole")
    ref = ref if isinstance(ref, Mapping) else {}
    out: Doc = {k: ref[k] for k in ("id", "href", "name") if k in ref}
    if "role" in related:
        out["role"] = related["role"]
    out["@referredType"] = ref.get("@referredType") or (
        "PartyRole" if ref.get("@type") == "PartyRoleRef" else "Party"
    )
    out["@type"] = "RelatedParty"
    return out


def item_to_v4(item: Mapping[str, Any]) -> Doc:
    out: Doc = {}
    for key, value in item.items():
        if key in V5_ONLY_ITEM:
            continue
        if key == "product" and isinstance(value, Mapping):
            out[key] = product_to_v4(value)
        elif key == "productOrderItem":
            out[key] = [item_to_v4(i) for i in _dicts(value)]
        elif key == "state":
            out[key] = state_to_v4(value)
        else:
            out[key] = value
    return out


def product_to_v4(product: Mapping[str, Any]) -> Doc:
    out: Doc = {}
    for key, value in product.items():
        if key == "relatedParty":
            out[key] = [party_to_v4(p) for p in _dicts(value)]
        elif key == "productRelationship":
            out[key] = [_relationship_to_v4(r) for r in _dicts(value)]
        elif key == "@type" and value == "ProductRef":
            continue  # v4 has one product shape
        else:
            out[key] = value
    return out


def _relationship_to_v4(relationship: Mapping[str, Any]) -> Doc:
    product = {k: relationship[k] for k in ("id", "href", "name") if k in relationship}
    out: Doc = {"relationshipType": relationship.get("relationshipType"), "product": product}
    return {k: v for k, v in out.items() if v is not None}


# -- v4 -> v5 -------------------------------------------------------------------------


def order_to_v5(doc: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> Doc:
    """The v5 document of a v4 one. With ``before`` (the v5 document the v4 one was
    made from), what the v4 document left as it was keeps its v5 form."""
    old_v4 = order_to_v4(before) if before is not None else {}
    old_v5: Mapping[str, Any] = before or {}
    out: Doc = {}
    for key, value in doc.items():
        target = RENAMED.get(key, key)
        if key in old_v4 and old_v4[key] == value:
            if target in old_v5:  # not, e.g., the empty relatedParty v4 always shows
                out[target] = copy.deepcopy(old_v5[target])
        elif key == "externalId":
            out[target] = _external_id_to_v5(value, old_v5.get("externalId"))
        elif key == "relatedParty":
            out[target] = _list_to_v5(value, old_v4.get(key), old_v5.get(key), party_to_v5)
        elif key == "productOrderItem":
            out[target] = _items_to_v5(value, old_v5.get(key))
        else:
            out[target] = value
    return _with_unshown(out, old_v5, old_v4)


def party_to_v5(party: Any, kind: str = "RelatedPartyRefOrPartyRoleRef") -> Any:
    if not isinstance(party, Mapping):
        return party  # left to the v5 schema to name
    referred = party.get("@referredType")
    ref: Doc = {"@type": "PartyRoleRef" if referred == "PartyRole" else "PartyRef"}
    ref.update((k, party[k]) for k in ("id", "href", "name", "@referredType") if k in party)
    out: Doc = {"@type": kind, "partyOrPartyRole": ref}
    if "role" in party:
        out["role"] = party["role"]
    return out


def _external_id_to_v5(value: Any, old: Any) -> Any:
    if not isinstance(value, str):
        return value
    rest = [copy.deepcopy(e) for e in _dicts(old)][1:]
    return [{"@type": "ExternalIdentifier", "id": value}, *rest]


def _items_to_v5(items: Any, old_items: Any) -> Any:
    if not isinstance(items, list):
        return items
    by_id = {o.get("id"): o for o in _dicts(old_items)}
    return [item_to_v5(i, by_id.get(i.get("id"))) if isinstance(i, Mapping) else i for i in items]


def item_to_v5(item: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> Doc:
    """A v4 item as v5; with ``before`` (the v5 item of the same id), what is unchanged
    keeps its v5 form and the v5-only attributes are kept."""
    old_v4 = item_to_v4(before) if before is not None else {}
    old_v5: Mapping[str, Any] = before or {}
    out: Doc = {}
    for key, value in item.items():
        if key in old_v4 and old_v4[key] == value:
            if key in old_v5:
                out[key] = copy.deepcopy(old_v5[key])
        elif key == "product" and isinstance(value, Mapping):
            out[key] = product_to_v5(value)
        elif key == "productOrderItem":
            out[key] = _items_to_v5(value, old_v5.get(key))
        else:
            out[key] = value
    return _with_unshown(out, old_v5, old_v4)


def product_to_v5(product: Mapping[str, Any]) -> Doc:
    """A v4 product: a reference when it names one and says nothing else, else a value."""
    is_ref = set(product) <= _REFERENCE_KEYS and "id" in product
    out: Doc = {"@type": "ProductRef" if is_ref else "Product"}
    for key, value in product.items():
        if key == "@type":
            continue
        if key == "relatedParty" and isinstance(value, list):
            out[key] = [party_to_v5(p, "RelatedPartyOrPartyRole") for p in value]
        elif key == "productRelationship" and isinstance(value, list):
            out[key] = [_relationship_to_v5(r) for r in value]
        else:
            out[key] = value
    return out


def _relationship_to_v5(relationship: Any) -> Any:
    if not isinstance(relationship, Mapping):
        return relationship
    product = relationship.get("product")
    product = product if isinstance(product, Mapping) else {}
    out: Doc = {"@type": "ProductRelationship"}
    out.update((k, product[k]) for k in ("id", "href", "name") if k in product)
    if "relationshipType" in relationship:
        out["relationshipType"] = relationship["relationshipType"]
    return out


def _list_to_v5(values: Any, old_v4: Any, old_v5: Any, convert: Callable[[Any], Any]) -> Any:
    """Each element the v4 list had already keeps its v5 form; new ones are converted."""
    if not isinstance(values, list):
        return values
    pairs = list(zip(old_v4 or [], old_v5 or [], strict=False))
    out = []
    for value in values:
        kept = next((v5 for v4, v5 in pairs if v4 == value), None)
        out.append(copy.deepcopy(kept) if kept is not None else convert(value))
    return out


def _with_unshown(out: Doc, old_v5: Mapping[str, Any], old_v4: Mapping[str, Any]) -> Doc:
    """``out`` with what the v4 form did not show of ``old_v5`` (a v5-only attribute, an
    empty list of external ids): v4 could not change it, so it is kept."""
    for key, value in old_v5.items():
        if _SHOWN_AS.get(key, key) not in old_v4 and key not in out:
            out[key] = copy.deepcopy(value)
    return out


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
