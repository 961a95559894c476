"""TMF630 JSON Patch Query translated to JSON Patch (``api/patch_query.py``), and its bounds.

TOD-03-02: the ICD's update example uses a query path
(``/productOrderItem/billingAccount/id?productOrderItem.id=120``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pss_ordering.api.contract import body_schema
from pss_ordering.api.jsonio import JSON_PATCH_QUERY
from pss_ordering.api.patch_query import MAX_CONDITIONS
from pss_ordering.api.patching import PatchLimits, make_patcher
from pss_ordering.domain.errors import InvalidBody, PayloadTooLarge

SCHEMA = body_schema("productOrdering", "ProductOrder_MVO", "ProductOrder")


def doc() -> dict[str, Any]:
    return {
        "productOrderItem": [
            {"id": "110", "product": {"productCharacteristic": [{"name": "a", "value": 1}]}},
            {
                "id": "120",
                "billingAccount": {"id": "1513"},
                "product": {
                    "productCharacteristic": [{"name": "a", "value": 1}, {"name": "b", "value": 2}]
                },
            },
            {"id": "130", "productOffering": {"id": "off-x"}},
        ]
    }


def apply(ops: list[dict[str, Any]], limits: PatchLimits | None = None) -> dict[str, Any]:
    return make_patcher(ops, JSON_PATCH_QUERY, SCHEMA, limits or PatchLimits())(doc())


def test_the_icd_example() -> None:
    op = {"op": "replace", "path": "/productOrderItem/billingAccount/id?productOrderItem.id=120"}
    result = apply([{**op, "value": "1889"}])
    assert result["productOrderItem"][1]["billingAccount"] == {"id": "1889"}
    assert result["productOrderItem"][0] == doc()["productOrderItem"][0]


def test_nested_arrays_and_several_conditions() -> None:
    path = (
        "/productOrderItem/product/productCharacteristic/value"
        "?productOrderItem.id=120&productOrderItem.product.productCharacteristic.name=b"
    )
    result = apply([{"op": "replace", "path": path, "value": 9}])
    assert [
        c["value"] for c in result["productOrderItem"][1]["product"]["productCharacteristic"]
    ] == [1, 9]


def test_a_condition_on_a_deeper_attribute_and_several_matches() -> None:
    by_offering = "/productOrderItem/note?productOrderItem.productOffering.id=off-x"
    assert (
        apply([{"op": "add", "path": by_offering, "value": []}])["productOrderItem"][2]["note"]
        == []
    )
    everywhere = (
        "/productOrderItem/product/productCharacteristic"
        "?productOrderItem.product.productCharacteristic.name=a"
    )
    result = apply([{"op": "remove", "path": everywhere}])
    assert [
        len(i.get("product", {}).get("productCharacteristic", []))
        for i in result["productOrderItem"]
    ] == [0, 1, 0]


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/productOrderItem/billingAccount/id?productOrderItem.id=999", "selects nothing"),
        ("/productOrderItem/billingAccount/id?other.id=1", "must be"),
        ("/productOrderItem/billingAccount/id?productOrderItem", "must be"),
        ("/productOrderItem/billingAccount/id?", "conditions"),
        ("/productOrderItem/product/productCharacteristic/value?productOrderItem.id=120", "array"),
        ("/productOrderItem/x?productOrderItem.id=120&productOrderItem.zz.id=1", "selects nothing"),
        ("no-slash?productOrderItem.id=1", "invalid path"),
    ],
)
def test_malformed_or_empty_queries_are_400(path: str, says: str) -> None:
    with pytest.raises(InvalidBody) as refused:
        apply([{"op": "replace", "path": path, "value": 1}])
    assert says in refused.value.message


def test_hostile_queries_are_bounded() -> None:
    many = "&".join(["productOrderItem.id=1"] * (MAX_CONDITIONS + 1))
    with pytest.raises(InvalidBody):
        apply([{"op": "add", "path": f"/productOrderItem/x?{many}", "value": 1}])
    with pytest.raises(InvalidBody):
        apply([{"op": "copy", "from": "/productOrderItem?productOrderItem.id=1", "path": "/x"}])
    with pytest.raises(InvalidBody):
        apply([{"op": "explode", "path": "/productOrderItem/x?productOrderItem.id=110"}])
    # one query selecting three elements is three operations of the budget
    every = {
        "op": "add",
        "path": "/productOrderItem/x?productOrderItem.product.productCharacteristic.name=a",
        "value": 1,
    }
    with pytest.raises(PayloadTooLarge):
        apply([every], PatchLimits(max_operations=1))
    # growth is bounded as for any JSON Patch
    big = {"op": "add", "path": "/productOrderItem/x?productOrderItem.id=120", "value": "x" * 2000}
    with pytest.raises(PayloadTooLarge):
        apply([big], PatchLimits(max_bytes=1000))


def test_conditions_as_json_pointers_as_in_psid632() -> None:
    """PSID632's examples name the condition's attribute as a JSON Pointer."""
    party = {"partyCharacteristic": [{"name": "market segment", "value": "x"}, {"name": "y"}]}
    op = {
        "op": "replace",
        "path": "/partyCharacteristic/value?/partyCharacteristic/name=market segment",
        "value": "Food retail",
    }
    result = make_patcher([op], JSON_PATCH_QUERY, SCHEMA)(party)
    assert result["partyCharacteristic"][0]["value"] == "Food retail"
