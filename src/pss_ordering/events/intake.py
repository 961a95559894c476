"""Receiving events (PSI-01-02-03-01, PSI-03-02-02-03) and listing the events a party may see.

An order event applies through the same use case, rules and permissions as a
PATCH by its sender, in one transaction with the record that makes it
idempotent: the same sender's same ``eventId`` again changes nothing and gets
the first answer back.

Another PSS creates an order by event (``orderCreationNotification``): the
carried order goes through the create use case exactly as a POST by that PSS
would, and the answer carries the created order under this PSS's id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..domain import hub, inbound, notifications
from ..domain.errors import BusinessRuleViolation, PreconditionFailed
from ..domain.identity import Caller
from ..domain.timestamps import format_instant
from ..service import callers
from ..service.orders import OrderService
from ..service.unit_of_work import Database

Check = Callable[[dict[str, Any]], None]
CheckNew = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Received:
    answer: dict[str, Any]
    applied: bool


class EventService:
    def __init__(self, database: Database, clock: Clock, orders: OrderService) -> None:
        self._db = database
        self._clock = clock
        self._orders = orders

    def receive(
        self,
        caller: Caller,
        topic: str,
        body: dict[str, Any],
        validate: Check,
        validate_new: CheckNew,
    ) -> Received:
        """Apply an order event once. ``validate`` checks an order as a PATCH leaves it,
        ``validate_new`` a carried new order as a POST body (returning it completed)."""
        hub.require_topic(topic)
        if topic != notifications.ORDER_TOPIC:
            raise BusinessRuleViolation(
                f"this PSS applies events on the 'order' topic only, not '{topic}'"
            )
        event = inbound.read_order_event(body)
        now = format_instant(self._clock.now())
        answer = {**body, "id": event.event_id, "eventTime": body.get("eventTime") or now}
        if event.event_type == notifications.CREATION:
            return self._create(caller, topic, event, answer, validate_new)
        with self._db.writing() as uow:
            uow.orders.get(event.order_id, lock=True)  # replays of one event queue here
            earlier = uow.received.get(caller.party_id, event.event_id)
            if earlier is not None:
                return Received(earlier, applied=False)
            result = self._orders.apply_patch(
                uow, caller, event.order_id, inbound.patcher(event), validate
            )
            if result is None:
                raise PreconditionFailed(f"productOrder '{event.order_id}' changed; send again")
            uow.received.add(caller.party_id, event.event_id, topic, now, answer)
            uow.commit()
        return Received(answer, applied=True)

    def _create(
        self,
        caller: Caller,
        topic: str,
        event: inbound.OrderEvent,
        answer: dict[str, Any],
        validate_new: CheckNew,
    ) -> Received:
        """A creation event from another PSS: POST's use case, once per (sender, eventId).

        The record of the event is written first: there is no order yet whose row could
        queue concurrent resends, so the record's key does (the first creates, the others
        wait for it and answer as a resend). A refused creation records nothing."""
        inbound.check_may_create_by_event(caller)
        with self._db.writing() as uow:
            if not uow.received.claim(caller.party_id, event.event_id, topic, answer["eventTime"]):
                earlier = uow.received.get(caller.party_id, event.event_id)
                return Received(answer if earlier is None else earlier, applied=False)
            new = validate_new(inbound.new_order_body(event, caller.party_id))
            created = self._orders.create_in(uow, caller, new)
            doc = created.doc
            href = f"{self._db.publisher.order_href_base}/{doc['id']}"
            answer["event"] = {**answer.get("event", {}), "productOrder": {**doc, "href": href}}
            uow.received.answer(caller.party_id, event.event_id, answer)
            uow.commit()
        return Received(answer, applied=True)

    def list(
        self,
        caller: Caller,
        topic: str,
        offset: int,
        limit: int,
        event_types: Sequence[str] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Events on a topic that the caller may see, newest first, in its own view."""
        hub.require_topic(topic)
        with self._db.reading() as uow:
            viewer = callers.viewer(uow.parties, caller)
            total, found = uow.events.listing(viewer, topic, offset, limit, event_types)
        href_base = self._db.publisher.order_href_base
        docs = []
        for event in found:
            key = notifications.audience(viewer, event)
            doc = None if key is None else notifications.render(event, key, href_base)
            if doc is not None:
                docs.append(doc)
        return total, docs
