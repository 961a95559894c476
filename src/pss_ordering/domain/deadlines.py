"""Provider response time (TOD-03-02, PSI-01-01-02-08, brief section 3.7): the PSS
watches that every provider acknowledges an order within the response time
governance set for it.

When an order is submitted to its providers (created, a draft submitted, or
resumed once the information it waited for was supplied), each provider it now
waits on gets a deadline: that moment plus the provider's response time as set
*then* (a later change applies to orders submitted after it). A provider
responds by moving all its items out of ``pending`` (or by asking for
information). The deadline shows on the order as a ``productOrderMilestone``
on the provider's items, so the customer, that provider and governance see it.
When it passes unanswered, the order gets a ``productOrderJeopardyAlert`` and
governance (and the provider) an alarm; a late answer is still accepted and
recorded as late. With the ``reject`` policy, the PSS rejects the provider's
items after a further grace period.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import progress
from .durations import format_duration
from .events import (
    BREACH,
    DeadlineClosed,
    DeadlineStarted,
    OrderValuesChanged,
    ResponseTimeExceeded,
)
from .identity import Role
from .lifecycle import FINAL_STATES, State, item_state
from .orders import ProductOrder
from .response_deadline import Deadline
from .timestamps import Instant, format_instant, parse_instant

MILESTONE = "responseDeadline"
YET_TO_REACH, COMPLETED, VIOLATED = "Yet-To-Reach", "Completed", "Violated"


def owed(order: ProductOrder) -> list[str]:
    """Providers the order now waits on for a first answer, without a deadline yet."""
    if order.submitted_at is None or order.missing or order.state in FINAL_STATES:
        return []
    return sorted(
        provider
        for provider in order.provider_ids
        if provider not in order.deadlines and _waiting_on(order, provider)
    )


def _waiting_on(order: ProductOrder, provider_id: str) -> bool:
    return any(
        item_state(order.item(item_id)) == State.PENDING and item_id not in order.acknowledged
        for item_id in order.items_of(provider_id)
    )


def start(
    order: ProductOrder, provider_id: str, now: Instant, response_time: timedelta | None
) -> Deadline:
    """Give the provider its deadline and show it on its items as a milestone."""
    due = None
    if response_time is not None:
        due = format_instant(parse_instant(now) + response_time)
    deadline = Deadline(
        provider_id=provider_id,
        started_at=now,
        response_time=None if response_time is None else format_duration(response_time),
        due_at=due,
    )
    order.deadlines[provider_id] = deadline
    order.events.append(
        DeadlineStarted(order_id=order.id, occurred_at=now, provider_id=provider_id, due_at=due)
    )
    if due is not None:
        order.doc.setdefault("productOrderMilestone", []).append(
            {
                "@type": "ProductOrderMilestone",
                "id": f"{MILESTONE}:{provider_id}",
                "name": MILESTONE,
                "description": f"acknowledgement due from provider {provider_id}",
                "milestoneDate": due,
                "status": YET_TO_REACH,
                "productOrderItem": _refs(order, provider_id),
            }
        )
    return deadline


def settle(order: ProductOrder, now: Instant) -> list[Deadline]:
    """Close the deadlines that were answered or became moot; returns those closed."""
    closed = []
    for deadline in order.deadlines.values():
        if not deadline.open:
            continue
        provider = deadline.provider_id
        if _responded(order, provider):
            deadline.responded_at = _answer_time(order, provider) or now
            late = deadline.due_at is not None and deadline.responded_at > deadline.due_at
            _update_milestone(
                order,
                provider,
                VIOLATED if late or deadline.breached_at else COMPLETED,
                f"acknowledged {'late ' if late else ''}at {deadline.responded_at}",
            )
        elif order.state in FINAL_STATES:
            deadline.closed_at = now
            _update_milestone(
                order, provider, None, f"no longer awaited: the order is {order.state}"
            )
        else:
            continue
        closed.append(deadline)
        order.events.append(
            DeadlineClosed(order_id=order.id, occurred_at=now, provider_id=provider)
        )
    return closed


def withdraw(order: ProductOrder, now: Instant) -> None:
    """The order is deleted: its open deadlines are closed unanswered, so the figures stop
    counting them as open and the retention policy can let them go in time."""
    for deadline in order.deadlines.values():
        if deadline.open:
            deadline.closed_at = now


def _responded(order: ProductOrder, provider_id: str) -> bool:
    """All its items acknowledged, or it asked for information (that is an answer too)."""
    items = order.items_of(provider_id)
    return all(i in order.acknowledged for i in items) or any(
        m.reporter == provider_id for m in order.missing
    )


def _answer_time(order: ProductOrder, provider_id: str) -> Instant | None:
    times = [order.acknowledged[i] for i in order.items_of(provider_id) if i in order.acknowledged]
    return max(times) if times else None


def breach(order: ProductOrder, provider_id: str, now: Instant) -> bool:
    """The deadline passed unanswered: alert on the order, alarm for governance."""
    deadline = order.deadlines.get(provider_id)
    if (
        deadline is None
        or not deadline.open
        or deadline.breached_at is not None
        or deadline.due_at is None
        or deadline.due_at > now
    ):
        return False
    deadline.breached_at = now
    items = [ref["productOrderItemId"] for ref in _refs(order, provider_id)]
    message = (
        f"provider {provider_id} has not acknowledged item(s) {', '.join(items)} "
        f"by {deadline.due_at} (response time {deadline.response_time})"
    )
    order.doc.setdefault("productOrderJeopardyAlert", []).append(
        {
            "@type": "ProductOrderJeopardyAlert",
            "id": f"{BREACH}:{provider_id}",
            "name": BREACH,
            "jeopardyType": BREACH,
            "exception": BREACH,
            "alertDate": now,
            "message": message,
            "productOrderItem": _refs(order, provider_id),
        }
    )
    _update_milestone(order, provider_id, VIOLATED, message)
    order.events.append(
        OrderValuesChanged(
            order_id=order.id,
            occurred_at=now,
            details={"fields": ["productOrderJeopardyAlert", "productOrderMilestone"]},
        )
    )
    order.events.append(
        ResponseTimeExceeded(
            order_id=order.id,
            occurred_at=now,
            details={"provider": provider_id, "alarm": _alarm(order, deadline, items, message)},
        )
    )
    return True


def expire(order: ProductOrder, provider_id: str, now: Instant, grace: timedelta) -> bool:
    """The ``reject`` policy: still no answer after the grace period, so the PSS rejects
    the provider's items (and so the order, which is accepted or refused as a whole)."""
    deadline = order.deadlines.get(provider_id)
    if deadline is None or not deadline.open or order.state in FINAL_STATES:
        return False
    waiting = [
        i
        for i in order.items_of(provider_id)
        if item_state(order.item(i)) == State.PENDING and i not in order.acknowledged
    ]
    if not waiting:
        return False
    order.doc.setdefault("productOrderErrorMessage", []).append(
        {
            "@type": "ProductOrderErrorMessage",
            "code": BREACH,
            "reason": "Response time exceeded",
            "message": (
                f"rejected by the PSS: provider {provider_id} did not acknowledge within "
                f"{deadline.response_time} and a grace period of {format_duration(grace)}"
            ),
            "timestamp": now,
            "productOrderItem": _refs(order, provider_id),
        }
    )
    for item_id in waiting:
        order.item(item_id)["state"] = State.REJECTED
    deadline.closed_at = now
    order.events.append(
        OrderValuesChanged(
            order_id=order.id, occurred_at=now, details={"fields": ["productOrderErrorMessage"]}
        )
    )
    progress.settle(order, now)
    return True


def _refs(order: ProductOrder, provider_id: str) -> list[dict[str, str]]:
    return [
        {"@type": "ProductOrderItemRef", "productOrderItemId": item_id}
        for item_id in sorted(order.items_of(provider_id))
    ]


def _update_milestone(
    order: ProductOrder, provider_id: str, status: str | None, message: str
) -> None:
    for milestone in order.doc.get("productOrderMilestone") or []:
        if milestone.get("id") == f"{MILESTONE}:{provider_id}":
            if status is not None:
                milestone["status"] = status
            milestone["message"] = message


def _alarm(
    order: ProductOrder, deadline: Deadline, items: list[str], message: str
) -> dict[str, Any]:
    """A TMF642-style alarm about the order, raised against the provider."""
    return {
        "@type": "Alarm",
        "id": f"{order.id}:{BREACH}:{deadline.provider_id}",
        "alarmType": "qualityOfServiceAlarm",
        "perceivedSeverity": "major",
        "probableCause": BREACH,
        "specificProblem": message,
        "state": "raised",
        "alarmRaisedTime": deadline.breached_at,
        "alarmedObject": {"@referredType": "ProductOrder", "id": order.id},
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": Role.PROVIDER,
                "partyOrPartyRole": {"@type": "PartyRef", "id": deadline.provider_id},
            }
        ],
        "deadline": deadline.due_at,
        "responseTime": deadline.response_time,
        "productOrderItem": items,
    }
