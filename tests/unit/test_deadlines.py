"""Response-time rules without a database (TOD-03-02 response time, PSI-01-01-02-08).

The order is built with ``create_order`` as the service would, then deadlines
are started, answered, breached and expired with explicit instants.
"""

from __future__ import annotations

from datetime import timedelta

from pss_ordering.domain import deadlines, progress
from pss_ordering.domain.events import ResponseTimeExceeded
from pss_ordering.domain.missing import Missing
from pss_ordering.domain.orders import ProductOrder, create_order
from pss_ordering.domain.timestamps import Instant
from pss_ordering.domain.visibility import provider_view
from tests.unit.factories import ALICE, body, context, item

T0 = Instant("2026-11-24T12:00:00.000Z")
T30 = Instant("2026-11-24T12:30:00.000Z")
T1H = Instant("2026-11-24T13:00:00.000Z")
T90 = Instant("2026-11-24T13:30:00.000Z")
T2H = Instant("2026-11-24T14:00:00.000Z")


def _order(*offerings: str, draft: bool = False) -> ProductOrder:
    extra = {"requestedInitialState": "draft"} if draft else {}
    items = [item(str(n), o) for n, o in enumerate(offerings or ("off-a", "off-b"), start=1)]
    return create_order(context(ALICE), body(*items, **extra), "ord-1", T0)


def _start_all(order: ProductOrder, times: dict[str, timedelta | None]) -> None:
    for provider in deadlines.owed(order):
        deadlines.start(order, provider, T0, times[provider])


def _ack(order: ProductOrder, provider: str, item_id: str, when: Instant) -> None:
    progress.move_items(order, provider, {item_id: "acknowledged"}, when)


def test_each_provider_gets_its_own_deadline_PSI_01_01_02_08() -> None:
    order = _order("off-a", "off-b")
    assert deadlines.owed(order) == ["prov-a", "prov-b"]
    _start_all(order, {"prov-a": timedelta(hours=1), "prov-b": timedelta(hours=2)})
    assert order.deadlines["prov-a"].due_at == T1H
    assert order.deadlines["prov-b"].due_at == T2H
    assert deadlines.owed(order) == [], "one deadline per provider per order"
    milestones = {m["id"]: m for m in order.doc["productOrderMilestone"]}
    assert milestones["responseDeadline:prov-a"]["milestoneDate"] == T1H
    assert milestones["responseDeadline:prov-a"]["status"] == "Yet-To-Reach"
    shown_to_b = provider_view(order, "prov-b")["productOrderMilestone"]
    assert [m["id"] for m in shown_to_b] == ["responseDeadline:prov-b"], "need-to-know"


def test_acknowledged_in_time_is_met() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    _ack(order, "prov-a", "1", T30)
    [closed] = deadlines.settle(order, T30)
    assert closed.responded_at == T30
    assert closed.response_seconds == 1800
    assert order.doc["productOrderMilestone"][0]["status"] == "Completed"
    assert not deadlines.breach(order, "prov-a", T90), "an answered deadline never breaches"


def test_breach_then_late_acknowledgement_is_recorded_as_late() -> None:
    order = _order("off-a", "off-b")
    _start_all(order, {"prov-a": timedelta(hours=1), "prov-b": timedelta(hours=2)})
    assert not deadlines.breach(order, "prov-a", T30), "not before the deadline"
    assert deadlines.breach(order, "prov-a", T90)
    assert not deadlines.breach(order, "prov-a", T2H), "a deadline breaches once"
    [alert] = order.doc["productOrderJeopardyAlert"]
    assert alert["jeopardyType"] == "responseTimeExceeded"
    assert "prov-a" in alert["message"] and T1H in alert["message"]
    assert alert["productOrderItem"] == [
        {"@type": "ProductOrderItemRef", "productOrderItemId": "1"}
    ]
    alarms = [e for e in order.events if isinstance(e, ResponseTimeExceeded)]
    assert [a.details["provider"] for a in alarms] == ["prov-a"]
    assert alarms[0].topic == "alarm"
    assert "productOrderJeopardyAlert" not in provider_view(order, "prov-b")
    _ack(order, "prov-a", "1", T2H)
    [closed] = deadlines.settle(order, T2H)
    assert closed.responded_at == T2H and closed.breached_at == T90
    milestone = order.doc["productOrderMilestone"][0]
    assert milestone["status"] == "Violated"
    assert milestone["message"].startswith("acknowledged late")


def test_a_provider_answers_when_all_its_items_leave_pending() -> None:
    order = _order("off-a", "off-a2")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    _ack(order, "prov-a", "1", T30)
    assert deadlines.settle(order, T30) == [], "item 2 is still pending"
    progress.move_items(order, "prov-a", {"2": "rejected"}, T90)
    [closed] = deadlines.settle(order, T90)
    assert closed.responded_at == T90, "a rejection is an answer too"


def test_asking_for_information_is_an_answer() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    order.missing.append(Missing("1", "missing=note", "prov-a"))
    [closed] = deadlines.settle(order, T30)
    assert closed.responded_at == T30


def test_no_deadline_while_the_order_waits_for_information() -> None:
    order = _order("off-a")
    order.missing.append(
        Missing("1", "missing=product.productCharacteristic.value&name=IMEI", "pss")
    )
    assert deadlines.owed(order) == []
    order.missing.clear()
    assert deadlines.owed(order) == ["prov-a"], "resumed: the clock starts now"


def test_no_deadline_for_a_draft_until_submitted() -> None:
    order = _order("off-a", draft=True)
    assert deadlines.owed(order) == []


def test_no_response_time_means_no_deadline_but_a_record() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": None})
    deadline = order.deadlines["prov-a"]
    assert deadline.due_at is None and deadline.response_time is None
    assert "productOrderMilestone" not in order.doc
    assert not deadlines.breach(order, "prov-a", T2H)


def test_cancelled_order_closes_open_deadlines() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    progress.request_cancellation(order, "changed my mind", T30)
    [closed] = deadlines.settle(order, T30)
    assert closed.closed_at == T30 and closed.responded_at is None
    assert not deadlines.breach(order, "prov-a", T90)


def test_expire_rejects_the_silent_providers_items_and_so_the_order() -> None:
    order = _order("off-a", "off-b")
    _start_all(order, {"prov-a": timedelta(hours=1), "prov-b": timedelta(hours=1)})
    _ack(order, "prov-b", "2", T30)
    deadlines.breach(order, "prov-a", T1H)
    assert deadlines.expire(order, "prov-a", T2H, timedelta(hours=1))
    states = {i["id"]: i["state"] for i in order.items}
    assert states == {"1": "rejected", "2": "cancelled"}
    assert order.state == "rejected"
    [message] = order.doc["productOrderErrorMessage"]
    assert (
        message["code"] == "responseTimeExceeded" and "grace period of PT1H" in message["message"]
    )
    assert not order.deadlines["prov-a"].open
    assert not deadlines.expire(order, "prov-a", T2H, timedelta(hours=1)), "once"


def test_expire_does_nothing_once_the_provider_answered() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    deadlines.breach(order, "prov-a", T1H)
    _ack(order, "prov-a", "1", T90)
    deadlines.settle(order, T90)
    assert not deadlines.expire(order, "prov-a", T2H, timedelta(hours=1))
    assert order.state == "acknowledged"


def test_deadlines_survive_the_order_meta_round_trip() -> None:
    order = _order("off-a")
    _start_all(order, {"prov-a": timedelta(hours=1)})
    deadlines.breach(order, "prov-a", T90)
    copy = _order("off-a")
    copy.load_meta(order.meta())
    assert copy.deadlines == order.deadlines
