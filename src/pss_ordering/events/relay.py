"""Forwarding to a partner PSS through the delivery worker (no second path).

At the broker, governance's pairing registers one callback owned by the partner
(as the provider of the items forwarded to it) whose target is the partner's
own event intake (``federation.relay_target``). The delivery worker sends that
callback's events like any other's, in order, with the per-host credentials,
retries and halting; only their body differs: what the partner receives is the
event of the PSS that ordered from it (``federation.relay_down``), not a
provider's notification. A refusal of a forwarded creation (the partner's
validation answering 4xx) is that partner's verdict on the order: its items are
rejected with the partner's reason, and the callback goes on.
"""

from __future__ import annotations

from ..domain import federation, notifications
from ..domain.delivery import Lane, PendingDelivery, SendResult
from ..service.orders import OrderService
from ..service.unit_of_work import Database


class PartnerRelay:
    def __init__(self, database: Database, orders: OrderService) -> None:
        self._db = database
        self._orders = orders

    def partner_of(self, lane: Lane) -> str | None:
        """The partner whose intake this callback is, if it is one (a read, only for a
        callback aimed at an event intake: ordinary callbacks cost nothing)."""
        if not lane.callback.endswith(federation.EVENT_PATH):
            return None
        with self._db.reading() as uow:
            partners = uow.parties.partners()
        return next(
            (
                p.id
                for p in partners
                if (url := p.partner_url) and federation.relay_target(url) == lane.callback
            ),
            None,
        )

    def body(self, delivery: PendingDelivery, partner_id: str) -> dict[str, object] | None:
        """What the partner receives for this delivery; None: nothing to tell it."""
        if delivery.audience != notifications.PROVIDER_PREFIX + partner_id:
            return None
        envelope = notifications.render(
            delivery.event, delivery.audience, self._db.publisher.order_href_base
        )
        if envelope is None:
            return None
        return federation.relay_down(envelope, delivery.event.details, partner_id)

    def refused(self, delivery: PendingDelivery, partner_id: str, result: SendResult) -> bool:
        """Whether the partner refused a forwarded order (then its items were rejected)."""
        if result.status not in federation.REFUSALS:
            return False
        body = self.body(delivery, partner_id)
        if body is None or body.get("eventType") != notifications.CREATION:
            return False
        reason = federation.refusal_reason(result.status, result.answer)
        self._orders.partner_refused(delivery.event.order.id, partner_id, reason)
        return True
