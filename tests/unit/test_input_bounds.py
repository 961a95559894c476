"""The bounds of client input without a server: the body walk, the contract's limits,
instants, durations and the query parser's cost limits (issue 9)."""

from __future__ import annotations

import contextlib
import copy
import threading
from datetime import timedelta
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pss_ordering.api import bounds
from pss_ordering.api.contract import body_schema, load_contract
from pss_ordering.config import Settings
from pss_ordering.domain.catalog import Offering, check_terms
from pss_ordering.domain.durations import MAX_DURATION, parse_duration, tmf_duration
from pss_ordering.domain.errors import BusinessRuleViolation, InvalidBody, InvalidQuery
from pss_ordering.domain.query import MAX_OFFSET, Condition, opaque, parse_query
from pss_ordering.domain.timestamps import InstantOutOfRange, parse_instant
from pss_ordering.service.batching import BatchWriter
from pss_ordering.service.execution import Executor

ATTRIBUTES = opaque({"state", "productOrderItem", "relatedParty", "creationDate", "note"})


def parse(*pairs: tuple[str, str], **limits: int) -> Any:
    return parse_query(pairs, attributes=ATTRIBUTES, default_limit=20, max_limit=100, **limits)


# --- bodies -------------------------------------------------------------------------------


def deep(depth: int) -> Any:
    value: Any = "x"
    for level in range(depth - 1):
        value = {"k": value} if level % 2 else [value]
    return value


def test_depth_up_to_the_limit_is_accepted() -> None:
    bounds.check_body(deep(bounds.MAX_JSON_DEPTH))


@pytest.mark.parametrize("depth", [bounds.MAX_JSON_DEPTH + 1, 254, 1000])
def test_deeper_is_refused_naming_the_field(depth: int) -> None:
    with pytest.raises(InvalidBody, match=r"^note\[0\].*64 levels"):
        bounds.check_body({"note": [deep(depth)]})


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"id": "a\x00"}, "id"),
        ({"a": [{"b": "\x00"}]}, r"a\[0\]\.b"),
        ({"a\x00": 1}, "field name"),
        (["x", "\x00"], r"\[1\]"),
        ("\x00", r"\(body\)"),
    ],
)
def test_nul_anywhere_is_refused(body: Any, where: str) -> None:
    with pytest.raises(InvalidBody, match=where):
        bounds.check_body(body)


def test_text_and_keys_are_bounded() -> None:
    bounds.check_body({"t": "x" * bounds.MAX_TEXT_LENGTH})
    with pytest.raises(InvalidBody, match="10001 characters"):
        bounds.check_body({"t": "x" * (bounds.MAX_TEXT_LENGTH + 1)})
    with pytest.raises(InvalidBody, match="field name"):
        bounds.check_body({"k" * (bounds.MAX_TEXT_LENGTH + 1): 1})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=200,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_body_walk_accepts_or_refuses_never_crashes(body: Any) -> None:
    with contextlib.suppress(InvalidBody):
        bounds.check_body(body)


# --- the contract -------------------------------------------------------------------------


def _properties(api: str, schema: str) -> dict[str, Any]:
    node = load_contract(api)["components"]["schemas"][schema]
    found: dict[str, Any] = {}
    for part in node.get("allOf", [node]):
        found.update(part.get("properties") or {})
    return found


def test_string_limits_by_kind() -> None:
    assert _properties("productOrdering", "ProductOrderItem")["id"]["maxLength"] == 64
    assert _properties("productOrdering", "ExternalIdentifier")["id"]["maxLength"] == 255
    assert "maxLength" not in _properties("productOrdering", "ProductOrder")["description"], (
        "free text: bounded by the body walk, published in x-pss-limits"
    )
    assert _properties("productOrdering", "EntityRef")["href"]["maxLength"] == 2048
    assert _properties("event", "HubSubscription_Create")["callback"]["maxLength"] == 2048
    assert _properties("event", "Event_Create")["eventId"]["maxLength"] == 64
    state = _properties("productOrdering", "ProductOrder")["requestedStartDate"]
    assert "maxLength" not in state and "pattern" not in state, "date-time: its format decides"


def test_bounding_twice_changes_nothing() -> None:
    once = load_contract("productOrdering")
    assert bounds.bound_contract(copy.deepcopy(once)) == once


def test_compiled_validators_enforce_the_published_limits() -> None:
    schema = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")
    item = {"id": "i" * 65, "action": "add", "productOffering": {"id": "o"}}
    with pytest.raises(InvalidBody, match=r"productOrderItem\[0\]\.id.*64"):
        schema.validate({"productOrderItem": [item]})
    with pytest.raises(InvalidBody, match=r"requestedStartDate: must be date-time.*0001"):
        schema.validate(
            {
                "productOrderItem": [{**item, "id": "1"}],
                "requestedStartDate": "0001-01-01T00:00:00+01:00",
            }
        )


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-11-24T12:00:00Z", True),
        ("2026-11-24T12:00:00.123+05:30", True),
        ("0001-01-01T00:00:00Z", True),
        ("0001-01-01T00:00:00+01:00", False),
        ("9999-12-31T23:59:59-01:00", False),
        ("2026-12-31T23:59:60Z", False),
        ("2026-11-24", False),
        ("2026-11-24 12:00:00Z", False),
        (42, False),
    ],
)
def test_date_time_format(text: Any, ok: bool) -> None:
    assert bounds.is_instant(text) is ok


def test_limits_are_published() -> None:
    published = bounds.limits(Settings(max_filter_params=7))
    assert published["maxFilterParameters"] == 7
    assert published["maxOffset"] == MAX_OFFSET
    assert published["maxDuration"] == "P100Y"


# --- instants and durations ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"])
def test_instants_beyond_the_utc_range_are_a_value_error(text: str) -> None:
    with pytest.raises(InstantOutOfRange):
        parse_instant(text)


@pytest.mark.parametrize("text", ["P99999999Y", "P101Y", "P36501D", "P" + "9" * 400 + "D"])
def test_durations_beyond_a_century_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="P100Y"):
        parse_duration(text)


def test_a_century_is_the_limit() -> None:
    assert parse_duration("P100Y") == MAX_DURATION
    assert tmf_duration({"amount": 100, "units": "years"}) == MAX_DURATION


@pytest.mark.parametrize("amount", [10**12, -1, float("nan"), float("inf")])
def test_tmf_durations_out_of_range(amount: float) -> None:
    with pytest.raises(ValueError):
        tmf_duration({"amount": amount, "units": "years"})
    term = {"name": "informationRequiredTimeout", "duration": {"amount": amount, "units": "years"}}
    doc = {"productOfferingTerm": [term]}
    with pytest.raises(BusinessRuleViolation, match="informationRequiredTimeout"):
        check_terms(doc)
    assert Offering("o", "p", doc).information_timeout is None, "stored ones are ignored"


@pytest.mark.parametrize("name", ["info_required_timeout", "breach_grace", "metrics_window"])
def test_duration_settings_are_bounded(name: str) -> None:
    with pytest.raises(ValueError, match="P100Y"):
        Settings.model_validate({name: timedelta(days=365 * 101)})


# --- query cost ----------------------------------------------------------------------------


def test_identical_conditions_count_once() -> None:
    pairs = [("productOrderItem.state", "pending")] * 100
    assert parse(*pairs).conditions == (Condition("productOrderItem.state", "eq", ("pending",)),)
    assert len(parse(("state", "a,b"), ("state", "b,a"), ("state", "a")).conditions) == 2


def test_filter_parameters_are_counted_as_sent() -> None:
    parse(*[("state", "a")] * 100)
    with pytest.raises(InvalidQuery, match="at most 100"):
        parse(*[("state", "a")] * 101)
    with pytest.raises(InvalidQuery, match="at most 3"):
        parse(*[("state", str(n)) for n in range(4)], max_filters=3)


def test_distinct_nested_conditions_are_capped() -> None:
    pairs = [("productOrderItem.state", str(n)) for n in range(10)]
    parse(*pairs, ("state", "x"), ("creationDate.gt", "2026-01-01T00:00:00Z"))
    with pytest.raises(InvalidQuery, match=r"nested.*11.*at most 10"):
        parse(*pairs, ("relatedParty.id", "p"))
    with pytest.raises(InvalidQuery, match="at most 2"):
        parse(*pairs[:3], max_nested=2)


def test_values_per_parameter_are_capped() -> None:
    parse(("state", ",".join(map(str, range(100)))))
    with pytest.raises(InvalidQuery, match="values in 'state': at most 100"):
        parse(("state", ",".join(map(str, range(101)))))


@pytest.mark.parametrize("raw", ["9223372036854775808", str(MAX_OFFSET + 1), "9" * 5000])
def test_offset_is_bounded(raw: str) -> None:
    with pytest.raises(InvalidQuery, match=f"offset must be at most {MAX_OFFSET}"):
        parse(("offset", raw))
    assert parse(("offset", str(MAX_OFFSET))).offset == MAX_OFFSET


@pytest.mark.parametrize("raw", ["²", "٣", "1_000", "+5", " "])
def test_paging_takes_ascii_digits_only(raw: str) -> None:
    with pytest.raises(InvalidQuery, match="must be an integer"):
        parse(("offset", raw))


def test_comparison_names_the_range_for_an_unrepresentable_instant() -> None:
    with pytest.raises(InvalidQuery, match=r"'creationDate\.gt': .*between 0001"):
        parse(("creationDate.gt", "0001-01-01T00:00:00+01:00"))


def test_attribute_paths_are_bounded() -> None:
    with pytest.raises(InvalidQuery, match="16 parts"):
        parse(("productOrderItem" + ".x" * 16, "1"))
    parse(("productOrderItem" + ".x" * 15, "1"))


# --- where reads run -----------------------------------------------------------------------


def test_reads_by_id_stay_inline_and_everything_else_leaves_the_event_loop() -> None:
    """SQLite (a batch writer): a read by primary key runs on the loop, a scan on a thread;
    PostgreSQL: both on threads. A list never holds the event loop."""
    sqlite = Executor(writer=BatchWriter(None), concurrency=2)  # type: ignore[arg-type]
    postgres = Executor(writer=None, concurrency=2)

    async def on_the_loop() -> tuple[bool, ...]:
        loop = threading.get_ident()
        return (
            await sqlite.read(threading.get_ident) == loop,
            await sqlite.scan(threading.get_ident) == loop,
            await postgres.read(threading.get_ident) == loop,
            await postgres.scan(threading.get_ident) == loop,
        )

    assert anyio.run(on_the_loop) == (True, False, False, False)
