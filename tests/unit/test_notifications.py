"""Who is told what, and how it reads: ``domain/notifications.py`` and ``FilterQuery``.

PSI-01-02-03-04 (need-to-know: audiences and views), the PSI event envelope
(seed 001, PSID688 ``Event``), PSI-01-02-03-05 / PSI-01-02-02-02 (filter
queries resolved against the envelope and, failing that, its resource).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pss_ordering.domain import notifications as n
from pss_ordering.domain.errors import BusinessRuleViolation
from pss_ordering.domain.hub import FilterQuery
from pss_ordering.domain.identity import Role
from pss_ordering.domain.notifications import StoredEvent
from pss_ordering.domain.orders import ProductOrder
from tests.unit.factories import (
    ALICE,
    BOB,
    GOV,
    NOW,
    ORG,
    PROV_A,
    PROV_B,
    PROV_C,
    PSS_1,
    PSS_2,
    caller,
    two_provider_order,
    viewer,
)

HREF = "http://pss.test/psi-api/productOrdering/v2/productOrder"
IMEI = "missing=product.productCharacteristic.value&name=IMEI"


def stored(
    order: ProductOrder | None = None,
    event_type: str = n.STATE_CHANGE,
    topic: str = n.ORDER_TOPIC,
    details: dict[str, Any] | None = None,
    **more: Any,
) -> StoredEvent:
    return StoredEvent(
        event_id="evt-1",
        topic=topic,
        event_type=event_type,
        occurred_at=NOW,
        order=order or two_provider_order(),
        details={**(details or {}), **more},
    )


def items(envelope: dict[str, Any] | None) -> list[str]:
    assert envelope is not None
    return [i["id"] for i in envelope["event"]["productOrder"]["productOrderItem"]]


# --- audience ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (viewer(ALICE), n.FULL),
        (viewer(ORG, "alice"), n.FULL),
        (viewer(ORG), None),
        (viewer(BOB), None),
        (viewer(PSS_1), n.FULL),
        (viewer(PSS_2), None),
        (viewer(GOV), n.FULL),
        (viewer(PROV_A), "provider:prov-a"),
        (viewer(PROV_B), "provider:prov-b"),
        (viewer(PROV_C), None),
        (viewer(caller("prov-a", Role.CUSTOMER)), None),
    ],
    ids=[
        "customer",
        "organisation-of-customer",
        "organisation-of-others",
        "other-customer",
        "creating-pss",
        "other-pss",
        "governance",
        "prov-a",
        "prov-b",
        "provider-without-items",
        "provider-id-without-provider-role",
    ],
)
def test_order_event_audience_PSI_01_02_03_04(who: Any, expected: str | None) -> None:
    """The audience is what the viewer could GET: full, its provider view, or nothing."""
    order = two_provider_order(creator_id="pss-1")
    assert n.audience(who, stored(order)) == expected


def test_providers_have_no_audience_for_drafts_PSI_01_02_03_04() -> None:
    draft = stored(two_provider_order(state="draft"))
    assert draft.order.submitted_at is None
    assert n.audience(viewer(PROV_A), draft) is None
    assert n.audience(viewer(ALICE), draft) == n.FULL
    assert n.told_providers(draft, None) == frozenset()


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (viewer(GOV), n.GOVERNANCE),
        (viewer(PROV_A), "provider:prov-a"),
        (viewer(PROV_B), None),
        (viewer(ALICE), None),
        (viewer(PSS_1), None),
    ],
    ids=["governance", "concerned-provider", "other-provider", "customer", "pss"],
)
def test_alarm_audience_PSI_01_02_03_04(who: Any, expected: str | None) -> None:
    """Alarms reach governance and the provider they concern, never the customer."""
    alarm = stored(topic=n.ALARM_TOPIC, event_type="alarm", provider="prov-a")
    assert n.audience(who, alarm) == expected


def test_told_providers_PSI_01_02_03_04() -> None:
    """Which providers are told of an event: the order's providers once submitted; for an
    alarm the provider it concerns; for an item's information request that item's provider."""
    assert n.told_providers(stored(), None) == {"prov-a", "prov-b"}
    assert n.told_providers(stored(topic=n.ALARM_TOPIC, provider="prov-b"), None) == {"prov-b"}
    assert n.told_providers(stored(topic=n.ALARM_TOPIC), None) == frozenset()
    about_b = stored(
        event_type=n.INFORMATION_REQUIRED,
        resourcePath="/productOrder/ord-1/productOrderItem/2",
        fieldPath=IMEI,
    )
    assert n.told_providers(about_b, None) == {"prov-b"}
    about_order = stored(
        event_type=n.INFORMATION_REQUIRED,
        resourcePath="/productOrder/ord-1",
        fieldPath="missing=notificationContact",
    )
    assert n.told_providers(about_order, None) == {"prov-a", "prov-b"}


# --- render -----------------------------------------------------------------------------


def test_full_envelope_PSI_01_02_03_04() -> None:
    """PSID688 Event: ids, time, type, the order id as correlationId, domain, TMF title,
    the whole order with id and href first."""
    envelope = n.render(stored(), n.FULL, HREF)
    assert envelope is not None
    assert {k: v for k, v in envelope.items() if k != "event"} == {
        "@type": "Event",
        "id": "evt-1",
        "eventId": "evt-1",
        "eventTime": NOW,
        "eventType": n.STATE_CHANGE,
        "correlationId": "ord-1",
        "domain": "productOrdering",
        "title": "ProductOrderStateChangeEvent",
    }
    order = envelope["event"]["productOrder"]
    assert list(order)[:2] == ["id", "href"]
    assert order["href"] == f"{HREF}/ord-1"
    assert items(envelope) == ["1", "2", "3"]
    assert order["orderTotalPrice"]


def test_provider_envelope_shows_only_its_items_PSI_01_02_03_04() -> None:
    """No other provider's items, references or party, and no order totals."""
    envelope = n.render(stored(), "provider:prov-a", HREF)
    assert items(envelope) == ["1", "3"]
    assert envelope is not None
    order = envelope["event"]["productOrder"]
    assert "orderTotalPrice" not in order
    first = order["productOrderItem"][0]
    assert [r["id"] for r in first["productOrderItemRelationship"]] == ["3"]
    assert "prov-b" not in str(order) and "off-b" not in str(order)
    assert items(n.render(stored(), "provider:prov-b", HREF)) == ["2"]


@pytest.mark.parametrize(
    ("order", "key"),
    [
        (two_provider_order(state="draft"), "provider:prov-a"),
        (two_provider_order(), "provider:prov-c"),
        (two_provider_order(), "nobody"),
    ],
    ids=["draft", "provider-without-items", "unknown-audience"],
)
def test_render_nothing_for_who_may_not_see_PSI_01_02_03_04(order: ProductOrder, key: str) -> None:
    assert n.render(stored(order), key, HREF) is None


def test_submission_is_the_creation_for_providers_PSI_01_02_03_04() -> None:
    """draft -> pending is a state change for the customer, the creation for a provider."""
    submitted = stored(details={"from": "draft", "to": "pending"})
    for_provider = n.render(submitted, "provider:prov-a", HREF)
    assert for_provider is not None
    assert for_provider["eventType"] == n.CREATION
    assert for_provider["title"] == "ProductOrderCreateEvent"
    for_customer = n.render(submitted, n.FULL, HREF)
    assert for_customer is not None and for_customer["eventType"] == n.STATE_CHANGE
    later = n.render(
        stored(details={"from": "pending", "to": "acknowledged"}), "provider:prov-a", HREF
    )
    assert later is not None and later["eventType"] == n.STATE_CHANGE


def test_information_required_carries_paths_as_seed_001_PSI_01_02_03_04() -> None:
    """resourcePath and fieldPath exactly as recorded; other events carry neither; a
    provider is not told what another provider's item lacks."""
    path = "/productOrder/ord-1/productOrderItem/1"
    info = stored(event_type=n.INFORMATION_REQUIRED, resourcePath=path, fieldPath=IMEI)
    for key in (n.FULL, "provider:prov-a"):
        envelope = n.render(info, key, HREF)
        assert envelope is not None
        assert (envelope["resourcePath"], envelope["fieldPath"]) == (path, IMEI)
        assert envelope["title"] == "ProductOrderInformationRequiredEvent"
    assert n.render(info, "provider:prov-b", HREF) is None
    plain = n.render(stored(), n.FULL, HREF)
    assert plain is not None
    assert "resourcePath" not in plain and "fieldPath" not in plain


def test_alarm_envelope_carries_the_alarm() -> None:
    """PSI-01-02-03-04: an alarm goes out on its own domain with the alarm and the order."""
    alarm = stored(
        topic=n.ALARM_TOPIC,
        event_type="alarm",
        provider="prov-a",
        alarm={"alarmType": "processingErrorAlarm"},
    )
    envelope = n.render(alarm, "provider:prov-a", HREF)
    assert envelope is not None
    assert envelope["domain"] == "alarm"
    assert envelope["event"]["alarm"] == {"alarmType": "processingErrorAlarm"}
    assert items(envelope) == ["1", "3"]
    governance = n.render(alarm, n.GOVERNANCE, HREF)
    assert items(governance) == ["1", "2", "3"]


def test_seed_and_tmf_names_map_both_ways() -> None:
    """README mapping (PSI-01-02-03-05: a query may name either)."""
    assert len(n.TMF_EVENT_NAMES) == 5
    for seed, tmf in n.TMF_EVENT_NAMES.items():
        assert n.SEED_EVENT_NAMES[tmf] == seed


# --- unchanged_for ------------------------------------------------------------------------


def changed(order: ProductOrder, item_id: str | None = None, **fields: Any) -> ProductOrder:
    """A copy of ``order`` with top-level ``fields`` (or item ``item_id``'s) changed."""
    after = copy.deepcopy(order)
    target = after.item(item_id) if item_id else after.doc
    target.update(fields)
    return after


def test_value_change_of_another_providers_item_is_not_news_PSI_01_02_03_04() -> None:
    """A provider is not told that another provider's item changed."""
    before = two_provider_order()
    after = changed(before, "2", state="completed")
    assert n.unchanged_for("provider:prov-a", before, after) is True
    assert n.unchanged_for("provider:prov-b", before, after) is False
    assert n.unchanged_for(n.FULL, before, after) is False
    assert n.unchanged_for(n.GOVERNANCE, before, after) is False


def test_order_state_alone_is_not_a_value_change_PSI_01_02_03_04() -> None:
    """The order state (and its dates) are announced by the state change notification."""
    before = two_provider_order()
    after = changed(before, state="completed", completionDate=NOW)
    assert n.unchanged_for("provider:prov-a", before, after) is True
    assert n.unchanged_for("provider:prov-a", before, changed(before, description="x")) is False


def test_unchanged_for_needs_a_visible_order_before_PSI_01_02_03_04() -> None:
    """A provider that could not see the order before (draft, no items) has news."""
    draft = two_provider_order(state="draft")
    assert n.unchanged_for("provider:prov-a", draft, changed(draft, state="pending")) is False
    before = two_provider_order()
    assert n.unchanged_for("provider:prov-c", before, changed(before, "2", state="held")) is False


# --- FilterQuery resolution ------------------------------------------------------------


@pytest.fixture
def provider_envelope() -> dict[str, Any]:
    order = two_provider_order()
    order.doc["priority"] = "1"
    envelope = n.render(stored(order), "provider:prov-a", HREF)
    assert envelope is not None
    return envelope


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("eventType=orderStateChangeNotification", True),
        ("eventType=ProductOrderStateChangeEvent", True),
        ("eventType=ProductOrderCreateEvent", False),
        ("correlationId=ord-1", True),
        ("domain=productOrdering", True),
        ("event.productOrder.id=ord-1", True),
        ("event.productOrder.productOrderItem.productOffering.id=off-a2", True),
        ("event.productOrder.productOrderItem.productOffering.id=off-b", False),
        ("event.productOrder.productOrderItem.quantity=2", True),
        ("event.priority=1", True),
        ("event.priority=2", False),
        ("priority=1", True),
        ("state=inProgress", True),
        ("state=inProgress&eventType=orderCreationNotification", False),
        ("productOrderItem.id=3", True),
        ("productOrderItem.id=2", False),
        ("id=evt-1", True),
        ("id=ord-1", False),
        ("event.productOrder=ord-1", False),
        ("event.productOrder.productOrderItem=1", False),
        ("event.nothing.here=1", False),
    ],
)
def test_filter_resolves_envelope_then_resource_PSI_01_02_03_05(
    provider_envelope: dict[str, Any], query: str, expected: bool
) -> None:
    """TOD-01-02-02 paths go into the envelope; a path the envelope lacks is looked up in
    the resource under ``event`` (``event.priority``, plain ``state``), but a name the
    envelope has (``id``) is never taken from the order. Objects and lists match nothing;
    the provider's view is what is filtered, so prov-b's item 2 matches nothing."""
    assert FilterQuery.parse(query).matches(provider_envelope) is expected


def test_filter_values_are_compared_as_text_PSI_01_02_02_02() -> None:
    event = {"eventType": "x", "event": {"productOrder": {"flag": True, "n": 3, "v": "a=b"}}}
    assert FilterQuery.parse("flag=true&n=3").matches(event)
    assert FilterQuery.parse("event.productOrder.v=a=b").matches(event)
    assert not FilterQuery.parse("flag=True").matches(event)


@pytest.mark.parametrize("query", ["state", "state=1&", ".a=1", "a.=1", "a/b=1", "a b=1"])
def test_malformed_query_refused_PSI_01_02_02_02(query: str) -> None:
    with pytest.raises(BusinessRuleViolation, match="query"):
        FilterQuery.parse(query)


def test_empty_query_matches_everything_PSI_01_02_02_02() -> None:
    for text in (None, "", "  "):
        assert FilterQuery.parse(text).terms == ()
        assert FilterQuery.parse(text).matches({"eventType": "anything"})
