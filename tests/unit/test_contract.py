"""Request validation against the PSI OpenAPI contracts (api/contract.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pss_ordering.api.contract import BodySchema, body_schema, to_json_schema
from pss_ordering.domain.errors import InvalidBody

from .factories import item


@pytest.fixture(scope="module")
def create_schema() -> BodySchema:
    return body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")


def invalid(schema: BodySchema, payload: Any) -> str:
    with pytest.raises(InvalidBody) as info:
        schema.validate(payload)
    return info.value.message


def test_valid_body_passes_and_gets_default_type(create_schema: BodySchema) -> None:
    payload = {"productOrderItem": [item()]}

    out = create_schema.validate(payload)

    assert out is payload
    assert out["@type"] == "ProductOrder"


def test_item_type_may_be_omitted(create_schema: BodySchema) -> None:
    create_schema.validate({"productOrderItem": [{"id": "1", "action": "add"}]})


def test_fill_type_false_leaves_type_absent(create_schema: BodySchema) -> None:
    payload: dict[str, Any] = {"productOrderItem": [item()]}

    create_schema.validate(payload, fill_type=False)

    assert "@type" not in payload


def test_unknown_type_is_refused(create_schema: BodySchema) -> None:
    message = invalid(create_schema, {"@type": "ServiceOrder", "productOrderItem": [item()]})

    assert "@type" in message
    assert "'ServiceOrder'" in message
    assert "ProductOrder" in message


def test_unknown_top_level_fields_are_named(create_schema: BodySchema) -> None:
    with pytest.raises(InvalidBody) as info:
        create_schema.validate({"productOrderItem": [item()], "bogus": 1, "zeta": 2})

    assert [(d.path, d.code) for d in info.value.details] == [
        ("$.bogus", "unknownField"),
        ("$.zeta", "unknownField"),
    ]
    assert info.value.message.startswith("2 problems")


def test_server_state_is_not_a_create_field(create_schema: BodySchema) -> None:
    assert "state" in invalid(create_schema, {"productOrderItem": [item()], "state": "done"})


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"productOrderItem": [{**item(), "action": 5}]}, "productOrderItem[0].action"),
        ({"productOrderItem": [item(), item("2", action="upgrade")]}, "productOrderItem[1].action"),
        ({"productOrderItem": [item(), item("2", quantity="x")]}, "productOrderItem[1].quantity"),
        (
            {"productOrderItem": [item(requestedStartDate="tomorrow")]},
            "productOrderItem[0].requestedStartDate",
        ),
        ({"productOrderItem": [item(id=3)]}, "productOrderItem[0].id"),
        ({"productOrderItem": [item()], "priority": 1}, "priority"),
        ({"productOrderItem": [item()], "requestedInitialState": "done"}, "requestedInitialState"),
        ({"productOrderItem": []}, "productOrderItem"),
        ({"productOrderItem": "x"}, "productOrderItem"),
    ],
)
def test_wrong_type_names_the_path(
    create_schema: BodySchema, payload: dict[str, Any], expected: str
) -> None:
    message = invalid(create_schema, payload)

    assert message.startswith(expected + ":"), message


def test_missing_items_is_refused(create_schema: BodySchema) -> None:
    assert "productOrderItem" in invalid(create_schema, {})


@pytest.mark.parametrize("payload", [[], "order", 3, None])
def test_non_object_body_is_refused(create_schema: BodySchema, payload: Any) -> None:
    assert invalid(create_schema, payload) == "the request body must be a JSON object"


def test_modification_schema_compiles_and_accepts_partial_body() -> None:
    schema = body_schema("productOrdering", "ProductOrder_MVO", "ProductOrder")

    schema.validate({"description": "x"}, fill_type=False)
    assert "description" in schema.fields


def test_body_schema_is_cached() -> None:
    first = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")

    assert body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder") is first


# --- OpenAPI -> JSON Schema conversion --------------------------------------------------------


def test_refs_point_into_definitions() -> None:
    assert to_json_schema({"$ref": "#/components/schemas/Note"}) == {"$ref": "#/definitions/Note"}


def test_nullable_becomes_a_type_union_and_openapi_keywords_drop() -> None:
    converted = to_json_schema({"type": "string", "nullable": True, "example": "x"})

    assert converted == {"type": ["string", "null"]}


def test_type_is_never_required() -> None:
    assert to_json_schema({"required": ["@type"], "type": "object"}) == {"type": "object"}
    assert to_json_schema({"required": ["@type", "id"]})["required"] == ["id"]


def test_discriminated_one_of_becomes_if_then_chain() -> None:
    converted = to_json_schema(
        {
            "oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}],
            "discriminator": {
                "propertyName": "@type",
                "mapping": {"A": "#/components/schemas/A", "B": "#/components/schemas/B"},
            },
        }
    )

    assert converted["if"]["properties"]["@type"] == {"const": "A"}
    assert converted["then"] == {"$ref": "#/definitions/A"}
    assert converted["else"]["if"]["properties"]["@type"] == {"const": "B"}
    assert converted["else"]["else"] == {
        "anyOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/B"}]
    }
    assert "oneOf" not in converted


def test_plain_one_of_becomes_any_of() -> None:
    assert to_json_schema({"oneOf": [{"type": "string"}]}) == {"anyOf": [{"type": "string"}]}


def test_non_string_type_is_refused_not_a_crash() -> None:
    """Found by the API fuzzer: ``"@type": []`` used to raise TypeError (a 500)."""
    from pss_ordering.api.contract import body_schema
    from pss_ordering.domain.errors import InvalidBody

    schema = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")
    with pytest.raises(InvalidBody, match="@type"):
        schema.validate({"@type": [], "productOrderItem": []})
