"""TMF630 queries (domain/query.py): parse, match, sort, select (PSI-03-02-04-01 list orders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pss_ordering.domain.errors import InvalidQuery
from pss_ordering.domain.query import (
    Condition,
    Query,
    SortKey,
    evaluate,
    matches,
    opaque,
    parse_query,
    select_fields,
    sort_documents,
    values_at,
)

ATTRIBUTES = opaque(
    {
        "id",
        "href",
        "@type",
        "state",
        "priority",
        "creationDate",
        "description",
        "relatedParty",
        "productOrderItem",
        "requestedStartDate",
    }
)


def parse(*pairs: tuple[str, str], max_limit: int = 100) -> Query:
    return parse_query(pairs, attributes=ATTRIBUTES, default_limit=20, max_limit=max_limit)


# --- parse_query ------------------------------------------------------------------------------


def test_defaults() -> None:
    assert parse() == Query(conditions=(), sort=(), fields=None, offset=0, limit=20)


def test_fields_offset_limit() -> None:
    q = parse(("fields", "state, productOrderItem.id,,"), ("offset", "40"), ("limit", "100"))

    assert q.fields == ("state", "productOrderItem.id")
    assert (q.offset, q.limit) == (40, 100)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("offset", "-1"),
        ("offset", "ten"),
        ("offset", "1.5"),
        ("offset", ""),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "-5"),
        ("limit", "x"),
    ],
)
def test_bad_paging_values(name: str, raw: str) -> None:
    with pytest.raises(InvalidQuery, match=name):
        parse((name, raw))


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("fields", "state,nonsense"),
        ("fields", "state..id"),
        ("fields", "productOrderItem."),
        ("sort", "-nonsense"),
        ("sort", "-"),
        ("nonsense", "x"),
        ("nonsense.gt", "1"),
        ("relatedParty..id", "x"),
        (".id", "x"),
    ],
)
def test_unknown_attribute_is_refused(name: str, raw: str) -> None:
    with pytest.raises(InvalidQuery, match="unknown attribute"):
        parse((name, raw))


def test_comma_list_is_one_or_condition() -> None:
    assert parse(("state", "pending, inProgress")).conditions == (
        Condition("state", "eq", ("pending", "inProgress")),
    )


def test_repeated_parameters_are_separate_and_conditions() -> None:
    q = parse(("state", "pending"), ("state", "inProgress"), ("priority", "1"))

    assert q.conditions == (
        Condition("state", "eq", ("pending",)),
        Condition("state", "eq", ("inProgress",)),
        Condition("priority", "eq", ("1",)),
    )


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "eq"])
def test_operators(op: str) -> None:
    (condition,) = parse((f"creationDate.{op}", "2026-11-24T12:00:00Z")).conditions

    assert condition == Condition("creationDate", op, ("2026-11-24T12:00:00Z",))


def test_nested_path_with_operator() -> None:
    (condition,) = parse(("productOrderItem.quantity.gte", "2")).conditions

    assert condition == Condition("productOrderItem.quantity", "gte", ("2",))
    assert condition.parts == ("productOrderItem", "quantity")


def test_nested_path_without_operator_is_equality() -> None:
    (condition,) = parse(("relatedParty.partyOrPartyRole.id", "alice")).conditions

    assert condition == Condition("relatedParty.partyOrPartyRole.id", "eq", ("alice",))


def test_comparison_value_is_not_split_on_commas() -> None:
    with pytest.raises(InvalidQuery, match="neither a number nor a date-time"):
        parse(("priority.gt", "1,2"))


@pytest.mark.parametrize("raw", ["soon", "", "1,2"])
def test_comparison_needs_number_or_date(raw: str) -> None:
    with pytest.raises(InvalidQuery):
        parse(("creationDate.gt", raw))


@pytest.mark.parametrize("raw", ["", ",", " , "])
def test_equality_needs_a_value(raw: str) -> None:
    with pytest.raises(InvalidQuery, match="needs a value"):
        parse(("state", raw))


def test_sort_keys() -> None:
    q = parse(("sort", "-creationDate,+state, priority"), ("sort", "id"))

    assert q.sort == (
        SortKey("creationDate", True),
        SortKey("state", False),
        SortKey("priority", False),
        SortKey("id", False),
    )


SAFE_TEXT = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_:@"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(sorted(ATTRIBUTES)).flatmap(
        lambda top: st.lists(
            SAFE_TEXT.filter(lambda s: s not in {"gt", "gte", "lt", "lte", "eq"}), max_size=2
        ).map(lambda rest: ".".join([top, *rest]))
    ),
    values=st.lists(SAFE_TEXT, min_size=1, max_size=4),
)
def test_equality_filter_round_trip(path: str, values: list[str]) -> None:
    (condition,) = parse((path, ",".join(values))).conditions

    assert condition == Condition(path, "eq", tuple(values))


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(0, 10**6), limit=st.integers(1, 100))
def test_paging_round_trip(offset: int, limit: int) -> None:
    q = parse(("offset", str(offset)), ("limit", str(limit)))

    assert (q.offset, q.limit) == (offset, limit)


# --- matches ----------------------------------------------------------------------------------

ORDER: dict[str, Any] = {
    "id": "o1",
    "state": "inProgress",
    "priority": "2",
    "creationDate": "2026-11-24T12:00:00.000Z",
    "relatedParty": [
        {"role": "customer", "partyOrPartyRole": {"id": "alice"}},
        {"role": "provider", "partyOrPartyRole": {"id": "prov-a"}},
    ],
    "productOrderItem": [
        {"id": "1", "quantity": 1, "state": "completed", "flag": True},
        {"id": "2", "quantity": 5, "state": "inProgress", "flag": False},
    ],
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("state", "eq", ("inProgress",)), True),
        (Condition("state", "eq", ("pending", "inProgress")), True),
        (Condition("state", "eq", ("pending",)), False),
        (Condition("relatedParty.partyOrPartyRole.id", "eq", ("prov-a",)), True),
        (Condition("relatedParty.partyOrPartyRole.id", "eq", ("bob",)), False),
        (Condition("relatedParty.role", "eq", ("provider",)), True),
        (Condition("productOrderItem.state", "eq", ("completed",)), True),
        (Condition("productOrderItem.quantity", "eq", ("5",)), True),
        (Condition("productOrderItem.quantity", "gt", ("4",)), True),
        (Condition("productOrderItem.quantity", "gt", ("5",)), False),
        (Condition("productOrderItem.quantity", "lte", ("1",)), True),
        (Condition("productOrderItem.quantity", "lt", ("1",)), False),
        (Condition("productOrderItem.flag", "eq", ("true",)), True),
        (Condition("productOrderItem.flag", "eq", ("True",)), False),
        (Condition("priority", "gte", ("2",)), True),
        (Condition("priority", "gt", ("2",)), False),
        (Condition("missing", "eq", ("x",)), False),
        (Condition("relatedParty", "eq", ("x",)), False),  # objects never equal a string
        (Condition("state", "gt", ("2026-01-01T00:00:00Z",)), False),  # not comparable
    ],
)
def test_matches(condition: Condition, expected: bool) -> None:
    assert matches(ORDER, condition) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", "2026-11-24T12:59:59+01:00", True),  # 11:59:59Z
        ("gt", "2026-11-24T13:00:00+01:00", False),  # 12:00Z exactly
        ("gte", "2026-11-24T13:00:00+01:00", True),
        ("lte", "2026-11-24T07:00:00-05:00", True),
        ("lt", "2026-11-24T07:00:00-05:00", False),
        ("lt", "2026-11-24T12:00:00.001Z", True),
        ("gte", "2026-11-24T12:00:00", True),  # naive taken as UTC
        ("gt", "2026-11-24", True),
    ],
)
def test_date_comparisons_across_offsets(op: str, value: str, expected: bool) -> None:
    assert matches(ORDER, Condition("creationDate", op, (value,))) is expected


def test_values_at_fans_out_over_lists() -> None:
    assert list(values_at(ORDER, ("productOrderItem", "id"))) == ["1", "2"]
    assert list(values_at(ORDER, ("nope", "id"))) == []


@settings(max_examples=200, deadline=None)
@given(
    stored=st.lists(st.sampled_from("abcdef"), max_size=5),
    wanted=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=3),
)
def test_equality_on_any_list_element(stored: list[str], wanted: list[str]) -> None:
    doc = {"relatedParty": [{"partyOrPartyRole": {"id": value}} for value in stored]}
    condition = Condition("relatedParty.partyOrPartyRole.id", "eq", tuple(wanted))

    assert matches(doc, condition) is bool(set(stored) & set(wanted))


@settings(max_examples=200, deadline=None)
@given(
    value=st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False),
    bound=st.integers(-1000, 1000),
)
def test_numeric_comparisons(value: float, bound: int) -> None:
    doc = {"n": value}
    expected = {
        "gt": value > bound,
        "gte": value >= bound,
        "lt": value < bound,
        "lte": value <= bound,
    }
    for op, result in expected.items():
        assert matches(doc, Condition("n", op, (str(bound),))) is result


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
    ),
    shift=st.integers(-14 * 60, 14 * 60),
    delta=st.integers(-3600, 3600),
)
def test_date_comparisons_are_instant_based(moment: datetime, shift: int, delta: int) -> None:
    """The same instant written with another offset compares equal; order follows time."""
    stored = moment.isoformat()
    other = (moment + timedelta(seconds=delta)).astimezone(timezone(timedelta(minutes=shift)))
    doc = {"d": stored}

    assert matches(doc, Condition("d", "gte", (other.isoformat(),))) is (delta <= 0)
    assert matches(doc, Condition("d", "lte", (other.isoformat(),))) is (delta >= 0)


# --- sort_documents ---------------------------------------------------------------------------

DOCS: list[dict[str, Any]] = [
    {"id": "1", "state": "b", "priority": "2"},
    {"id": "2", "priority": "1"},
    {"id": "3", "state": "a", "priority": "2"},
    {"id": "4", "state": "c", "priority": "1"},
]


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in docs]


def test_sort_ascending_missing_last() -> None:
    assert ids(sort_documents(DOCS, [SortKey("state", False)])) == ["3", "1", "4", "2"]


def test_sort_descending_missing_last() -> None:
    assert ids(sort_documents(DOCS, [SortKey("state", True)])) == ["4", "1", "3", "2"]


def test_sort_multiple_keys() -> None:
    keys = [SortKey("priority", False), SortKey("state", True)]

    assert ids(sort_documents(DOCS, keys)) == ["4", "2", "1", "3"]


def test_sort_is_stable() -> None:
    docs = [{"id": str(n), "k": "same"} for n in range(5)]

    assert ids(sort_documents(docs, [SortKey("k", False)])) == ["0", "1", "2", "3", "4"]
    assert ids(sort_documents(docs, [SortKey("k", True)])) == ["0", "1", "2", "3", "4"]


def test_sort_nested_path_uses_first_list_element() -> None:
    docs: list[dict[str, Any]] = [
        {"id": "1", "productOrderItem": [{"id": "z"}, {"id": "a"}]},
        {"id": "2", "productOrderItem": [{"id": "m"}]},
        {"id": "3", "productOrderItem": []},
    ]

    assert ids(sort_documents(docs, [SortKey("productOrderItem.id", False)])) == ["2", "1", "3"]


def test_sort_does_not_mutate_input() -> None:
    docs = list(DOCS)

    sort_documents(docs, [SortKey("state", False)])

    assert docs == DOCS


def test_sort_without_keys_keeps_order() -> None:
    assert ids(sort_documents(DOCS, [])) == ["1", "2", "3", "4"]


# --- evaluate (in-memory filter, count, sort, page) -------------------------------------------


def test_evaluate_filters_counts_sorts_and_pages() -> None:
    conditions = [Condition("priority", "eq", ("1", "2"))]
    total, page = evaluate(DOCS, conditions, [SortKey("state", False)], 1, 2)

    assert total == 4
    assert ids(page) == ["1", "4"]


def test_evaluate_and_of_conditions_without_sort_keeps_order() -> None:
    conditions = [Condition("priority", "eq", ("2",)), Condition("state", "eq", ("a", "b"))]
    total, page = evaluate(DOCS, conditions, [], 0, 20)

    assert (total, ids(page)) == (2, ["1", "3"])


# --- select_fields ----------------------------------------------------------------------------

DOC: dict[str, Any] = {
    "id": "o1",
    "href": "/productOrder/o1",
    "@type": "ProductOrder",
    "state": "pending",
    "description": "d",
    "billingAccount": {"id": "ba", "name": "main"},
    "productOrderItem": [
        {"id": "1", "state": "pending", "productOffering": {"id": "off-a", "name": "A"}},
        {"id": "2", "state": "done", "productOffering": {"id": "off-b", "name": "B"}},
    ],
}


def test_select_none_returns_a_copy() -> None:
    out = select_fields(DOC, None)

    assert out == DOC
    assert out is not DOC


def test_select_keeps_id_href_type() -> None:
    assert select_fields(DOC, ["state"]) == {
        "id": "o1",
        "href": "/productOrder/o1",
        "@type": "ProductOrder",
        "state": "pending",
    }


def test_select_empty_list_keeps_only_identity() -> None:
    assert set(select_fields(DOC, [])) == {"id", "href", "@type"}


def test_select_dot_path_into_list() -> None:
    out = select_fields(DOC, ["productOrderItem.id", "productOrderItem.productOffering.id"])

    assert out["productOrderItem"] == [
        {"id": "1", "productOffering": {"id": "off-a"}},
        {"id": "2", "productOffering": {"id": "off-b"}},
    ]


def test_select_dot_path_into_object() -> None:
    assert select_fields(DOC, ["billingAccount.name"])["billingAccount"] == {"name": "main"}


def test_select_missing_paths_are_skipped() -> None:
    out = select_fields(DOC, ["nope", "billingAccount.nope.deeper", "state.length"])

    assert set(out) == {"id", "href", "@type", "billingAccount"}


def test_select_does_not_mutate_source() -> None:
    import copy

    before = copy.deepcopy(DOC)
    select_fields(DOC, ["productOrderItem.id", "billingAccount.id"])

    assert before == DOC


# --- regressions: bugs found by these tests and fixed ---------------------------------


@pytest.mark.parametrize("wanted", ["2026-11-24T12:00:00Z", "2026-11-24T13:00:00+01:00"])
def test_equality_on_dates_is_instant_based(wanted: str) -> None:
    assert matches(ORDER, Condition("creationDate", "eq", (wanted,)))


def test_sort_dates_by_instant() -> None:
    docs = [
        {"id": "nine-utc", "requestedStartDate": "2026-11-24T09:00:00Z"},
        {"id": "eight-utc", "requestedStartDate": "2026-11-24T10:00:00+02:00"},
    ]

    assert ids(sort_documents(docs, [SortKey("requestedStartDate", False)])) == [
        "eight-utc",
        "nine-utc",
    ]


def test_sort_numbers_numerically() -> None:
    docs = [
        {"id": "ten", "productOrderItem": [{"quantity": 10}]},
        {"id": "nine", "productOrderItem": [{"quantity": 9}]},
    ]

    assert ids(sort_documents(docs, [SortKey("productOrderItem.quantity", False)])) == [
        "nine",
        "ten",
    ]
