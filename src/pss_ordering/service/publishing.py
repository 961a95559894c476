"""Publishing at commit: each event an order change recorded is stored with the order
as it was, and queued for every callback that qualifies, in the same transaction.

A callback qualifies (TOD-01-02-03) by topic (PSI-01-02-03-03), by need-to-know
(PSI-01-02-03-04: ``notifications.audience``, the rule the event listing applies
too; which providers are told is decided here, once, and stored with the event)
and by its filter query (PSI-01-02-03-05). Because the deliveries commit with
the change, a committed event is never lost and an uncommitted one never sent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..domain import notifications
from ..domain.hub import FilterQuery, Subscription
from ..domain.notifications import ALARM_TOPIC, ORDER_TOPIC, StoredEvent
from ..domain.orders import ProductOrder
from ..domain.visibility import Viewer
from ..ids import new_id
from ..tmf4 import events as tmf4_events

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

ORDER_PATH = "/psi-api/productOrdering/v2/productOrder"


@lru_cache(maxsize=4096)
def _filter(query: str | None) -> FilterQuery:
    return FilterQuery.parse(query)


class Publisher:
    def __init__(self, base_url: str) -> None:
        self.order_href_base = base_url.rstrip("/") + ORDER_PATH
        self.v4_order_href_base = base_url.rstrip("/") + tmf4_events.ORDER_PATH

    def render(self, event: StoredEvent, audience: str) -> dict[str, Any] | None:
        """The envelope a delivery's audience receives (a v4 one for a v4 registration)."""
        return tmf4_events.render(event, audience, self.order_href_base, self.v4_order_href_base)

    def publish(self, uow: UnitOfWork, written: list[ProductOrder]) -> None:
        """Decide every event's audiences and callbacks first (reads), then store them with
        their deliveries (writes): on PostgreSQL the writes go out with the commit."""
        decided: list[tuple[StoredEvent, list[tuple[str, str]]]] = []
        for order in written:
            if order.events:
                decided += self._decide(uow, order)
        lanes = {subscription for _, queued in decided for subscription, _ in queued}
        if lanes:
            uow.deliveries.lock_lanes(lanes)
        for event, queued in decided:
            uow.events.add(event, queued)
        if lanes:
            uow.deliveries.wake_workers()

    def _decide(
        self, uow: UnitOfWork, order: ProductOrder
    ) -> list[tuple[StoredEvent, list[tuple[str, str]]]]:
        """The order's events, each with the (callback, audience) it is queued for."""
        recorded, order.events = order.events, []
        before = uow.orders.as_loaded(order.id)
        customer_side = uow.parties.represented_by(order.customer_id)
        owners = customer_side | {order.creator_id} | order.provider_ids
        candidates: dict[str, list[Subscription]] = {}
        decided: list[tuple[StoredEvent, list[tuple[str, str]]]] = []
        for domain_event in recorded:
            event = notifications.decided(
                StoredEvent(
                    event_id=new_id(),
                    topic=domain_event.topic,
                    event_type=domain_event.notification,
                    occurred_at=domain_event.occurred_at,
                    order=order,
                    details=domain_event.details,
                    correlation_id=uow.caused_by(order.id),
                ),
                before,
            )
            if event.topic not in candidates:
                wanted = owners if event.topic != ALARM_TOPIC else {event.concerned_provider or ""}
                # Order events are heard by v4 hub registrations too (tmf4/events.py).
                also = tmf4_events.HUB_TOPIC if event.topic == ORDER_TOPIC else event.topic
                candidates[event.topic] = uow.subscriptions.candidates(event.topic, wanted, also)
            rendered: dict[str, dict[str, Any] | None] = {}
            queued: list[tuple[str, str]] = []
            for subscription in candidates[event.topic]:
                represented = {subscription.owner_id}
                if subscription.owner_id in customer_side:
                    represented.add(order.customer_id)
                viewer = Viewer(subscription.owner, frozenset(represented))
                audience = notifications.audience(viewer, event)
                if audience is None:
                    continue
                if subscription.topic == tmf4_events.HUB_TOPIC:
                    audience = tmf4_events.audience(audience)
                if audience not in rendered:
                    rendered[audience] = self.render(event, audience)
                envelope = rendered[audience]
                if envelope is not None and _filter(subscription.query).matches(envelope):
                    queued.append((subscription.id, audience))
            decided.append((event, queued))
        return decided
