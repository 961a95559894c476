"""Every problem in one answer (domain/problems.py, api/contract.py), without HTTP (issue 11 §3)."""

from __future__ import annotations

import pytest

from pss_ordering.api.contract import body_schema
from pss_ordering.domain.errors import (
    BusinessRuleViolation,
    Conflict,
    Forbidden,
    InvalidBody,
    PssError,
)
from pss_ordering.domain.field_rights import RENAMED
from pss_ordering.domain.orders import creation_shape
from pss_ordering.domain.problems import Problems, json_path
from pss_ordering.domain.related_parties import canonical, v5_form


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        ([], "$"),
        (["productOrderItem", 0, "state"], "$.productOrderItem[0].state"),
        (["@type"], "$['@type']"),
        (["it's"], "$['it\\'s']"),
    ],
)
def test_json_path(parts: list[str | int], path: str) -> None:
    assert json_path(parts) == path


def test_nothing_found_raises_nothing() -> None:
    Problems().raise_if_any()


def test_one_problem_answers_as_if_raised_alone() -> None:
    problems = Problems()
    problems.add(BusinessRuleViolation, ["priority"], "must be 0 (highest) to 4 (lowest)", "rule")

    with pytest.raises(BusinessRuleViolation) as info:
        problems.raise_if_any()

    assert info.value.message == "priority: must be 0 (highest) to 4 (lowest)"
    assert [d.as_json() for d in info.value.details] == [
        {"path": "$.priority", "reason": "must be 0 (highest) to 4 (lowest)", "code": "rule"}
    ]


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        ((BusinessRuleViolation, InvalidBody), 400),
        ((BusinessRuleViolation, Conflict), 409),
        ((Conflict, InvalidBody, Forbidden), 403),
        ((BusinessRuleViolation, BusinessRuleViolation), 422),
    ],
)
def test_the_most_serious_kind_decides_the_status(
    kinds: tuple[type[PssError], ...], status: int
) -> None:
    problems = Problems()
    for n, kind in enumerate(kinds):
        problems.add(kind, [f"f{n}"], "wrong", "x")

    with pytest.raises(PssError) as info:
        problems.raise_if_any()

    assert info.value.status == status
    assert [d.path for d in info.value.details] == [f"$.f{n}" for n in range(len(kinds))]


def test_message_summarises_the_first_three_and_counts_the_rest() -> None:
    problems = Problems()
    for n in range(5):
        problems.add(InvalidBody, [f"f{n}"], "wrong", "x")

    with pytest.raises(InvalidBody) as info:
        problems.raise_if_any()

    assert info.value.message == (
        "5 problems (each in details): f0: wrong; f1: wrong; f2: wrong; and 2 more"
    )


def test_a_hostile_body_gets_a_bounded_answer() -> None:
    """Thousands of bad values: at most MAX_DETAILS schema problems are listed."""
    schema = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")
    items = [{"id": n, "action": 5} for n in range(2000)]

    with pytest.raises(InvalidBody) as info:
        schema.validate({"productOrderItem": items})

    assert len(info.value.details) == 50


def test_renamed_field_is_refused_and_checked_as_its_v5_name() -> None:
    schema = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")
    body = {"orderItem": [{"id": "1", "action": "add", "state": "InProgress", "quantity": "x"}]}

    with pytest.raises(InvalidBody) as info:
        schema.validate(body, rules=creation_shape, aliases=RENAMED)

    assert [(d.path, d.code) for d in info.value.details] == [
        ("$.orderItem", "unknownField"),
        ("$.orderItem[0].state", "serverSet"),  # not also "not one of" the item states
        ("$.orderItem[0].quantity", "schema"),
    ]


def test_v5_form_moves_the_party_under_party_or_party_role() -> None:
    entry = {"role": "customer", "id": "345221", "name": "John Doe", "@type": "RelatedParty"}

    assert v5_form(entry) == (
        '{"role": "customer", "@type": "RelatedParty", '
        '"partyOrPartyRole": {"@type": "PartyRef", "id": "345221", "name": "John Doe"}}'
    )


def test_customer_role_is_stored_as_read() -> None:
    ref = {"@type": "PartyRef", "id": "alice"}
    entries = [
        {"role": "CUSTOMER", "partyOrPartyRole": ref},
        {"role": "user", "partyOrPartyRole": ref},
    ]

    assert [e["role"] for e in canonical(entries)] == ["customer", "user"]
