"""Forwarding to a partner PSS through the delivery worker (no second path).

At the broker, governance's pairing registers one callback owned by the partner
(as the provider of the items forwarded to it) whose target is the partner's
own event intake (``federation.relay_target``). The delivery worker sends that
callback's events like any other's, in order, with the per-host credentials,
retries and halting; only their body differs: what the partner receives is the
event of the PSS that ordered from it (``federation.relay_down``), not a
provider's notification. A refusal of a forwarded creation (the partner's
validation answering 4xx) is that partner's verdict on the order: its items are
rejected with the partner's reason; a refusal of a later change is the partner's
refusal of that change, answered on the order as a provider answers; either way
the callback goes on. Any other failure is retried and halts like any callback's.
"""

from __future__ import annotations

import logging
from typing import Any

from ..domain import federation, notifications
from ..domain.delivery import Lane, PendingDelivery, SendResult
from ..domain.errors import PssError
from ..domain.identity import Caller, Role
from ..service.orders import OrderService
from ..service.unit_of_work import Database

log = logging.getLogger(__name__)


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

    def body(self, delivery: PendingDelivery, partner_id: str) -> dict[str, Any] | None:
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
        """Whether the partner refused what was relayed to it (then that is settled: its
        verdict is on the order, and the callback goes on with the next event).

        A refused creation rejects the partner's items with its reason; a refused later
        change is answered on the order as the partner's own refusal of it
        (``federation.change_refused``), under the provider PATCH rules.
        """
        if result.status not in federation.REFUSALS:
            return False
        body = self.body(delivery, partner_id)
        if body is None:
            return False
        reason = federation.refusal_reason(result.status, result.answer)
        order_id = delivery.event.order.id
        if body.get("eventType") == notifications.CREATION:
            self._orders.partner_refused(order_id, partner_id, reason)
            return True
        with self._db.reading() as uow:
            order = uow.orders.get(order_id)
        if order is None:
            return True  # removed here since: nothing left to answer on
        answer = federation.change_refused(order, partner_id, body["event"]["productOrder"], reason)
        as_partner = Caller(partner_id, frozenset({Role.PROVIDER}))
        try:
            self._orders.patch(as_partner, order_id, answer, _built_here, None)
        except PssError as exc:  # e.g. the order became final meanwhile
            log.warning(
                "partner %s refused event %s (%s); not recorded on order %s: %s",
                partner_id,
                delivery.event.event_id,
                reason,
                order_id,
                exc.message,
            )
        return True


def _built_here(order: dict[str, Any]) -> None:
    """No schema check: the refusal is built by this PSS, not received from a client."""
