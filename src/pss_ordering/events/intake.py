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
from dataclasses import dataclass, replace
from typing import Any

from ..clock import Clock
from ..domain import federation, hub, inbound, notifications
from ..domain.errors import BusinessRuleViolation, NotFound, PreconditionFailed
from ..domain.identity import Caller, Role
from ..domain.timestamps import format_instant
from ..service import callers
from ..service.orders import OrderService, OrderView
from ..service.unit_of_work import Database, UnitOfWork

Check = Callable[[dict[str, Any]], None]
Patcher = Callable[[dict[str, Any]], dict[str, Any]]
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
        with self._db.reading() as uow:
            relayed = self._partner(uow, caller)
            if relayed and event.event_type == notifications.CREATION:
                # The partner created its copy of our order (nothing to apply), unless,
                # paired both ways, it orders from us as a PSS: then it is a creation.
                relayed = self._forwarded(uow, caller, event) is not None or not caller.has(
                    Role.PSS
                )
        if event.event_type == notifications.CREATION and not relayed:
            return self._create(caller, topic, event, answer, validate_new)
        if event.event_type == notifications.REMOVAL:
            if not relayed:
                raise inbound.not_applied(event.event_type)
            return self._withdrawn(caller, topic, event, answer)
        with self._db.writing() as uow:
            order_id = (
                self._ours(uow, caller, event) if relayed else self._named(uow, caller, event)
            )
            if order_id is None:
                return Received(answer, applied=False)  # removed here: nothing to apply
            order = uow.orders.get(order_id, lock=True)  # replays of one event queue here
            earlier = uow.received.get(caller.party_id, event.event_id)
            if earlier is not None:
                return Received(earlier, applied=False)
            if relayed and event.event_type == notifications.CREATION:
                result: OrderView | None = self._orders.get_in(uow, caller, order_id)
            else:
                awaiting = order.unconfirmed.get(caller.party_id, []) if order else []
                change = (
                    _from_partner(event, order_id, awaiting) if relayed else inbound.patcher(event)
                )
                result = self._orders.apply_patch(
                    uow, caller, order_id, change, validate, unchanged_ok=True
                )
            if result is None:
                raise PreconditionFailed(f"productOrder '{order_id}' changed; send again")
            uow.received.add(caller.party_id, event.event_id, topic, now, answer)
            uow.commit()
        return Received(answer, applied=True)

    @staticmethod
    def _partner(uow: UnitOfWork, caller: Caller) -> bool:
        """Whether the sender is a partner PSS (governance set its ``partnerApiUrl``)
        calling as the provider of the items this PSS forwarded to it."""
        if not caller.has(Role.PROVIDER):
            return False
        party = uow.parties.get(caller.party_id)
        return party is not None and party.partner_url is not None

    @staticmethod
    def _named(uow: UnitOfWork, caller: Caller, event: inbound.OrderEvent) -> str:
        """The order an event names: by this PSS's id, or by the id its sender gave it
        (the externalId the sender owns, on an order the sender created)."""
        if uow.orders.get(event.order_id) is not None:
            return event.order_id
        for candidate in uow.orders.holding_external_id(event.order_id):
            order = uow.orders.get(candidate)
            if (
                order is not None
                and order.creator_id == caller.party_id
                and inbound.owned_external_id(order.doc, caller.party_id) == event.order_id
            ):
                return candidate
        return event.order_id  # unknown: answered 404 like a PATCH of it

    @staticmethod
    def _forwarded(uow: UnitOfWork, caller: Caller, event: inbound.OrderEvent) -> str | None:
        """Our order a partner's event is about: named among the externalIds of its copy
        (our per-hop id), and forwarded to that partner (it is one of its providers)."""
        for candidate in federation.order_candidates(event.resource):
            order = uow.orders.get(candidate)
            if order is not None and caller.party_id in order.provider_ids:
                return candidate
        return None

    def _ours(self, uow: UnitOfWork, caller: Caller, event: inbound.OrderEvent) -> str | None:
        """Our order a partner's event is about; None for one this PSS forwarded to that
        partner and has removed since (the partner's copy goes on reporting, e.g. its
        answer to the cancellation the removal sent it: accepted, nothing to apply, so
        the partner's callback is not halted by an order that is gone). The response
        deadline this PSS kept for the partner (the figures' history, kept after an
        order is deleted) is what tells such an order from one never forwarded."""
        found = self._forwarded(uow, caller, event)
        if found is not None:
            return found
        candidates = federation.order_candidates(event.resource)
        if not any(uow.orders.get(c) for c in candidates) and uow.response_times.awaited_from(
            caller.party_id, candidates
        ):
            return None
        raise NotFound(
            f"productOrder '{event.order_id}': no order of this PSS forwarded to "
            f"'{caller.party_id}' is named among its externalIds"
        )

    def _withdrawn(
        self, caller: Caller, topic: str, event: inbound.OrderEvent, answer: dict[str, Any]
    ) -> Received:
        """The partner removed its copy of an order we forwarded: it will not report on
        it again, so our items for it are rejected (failed, once work started), as for
        its refusal of the order. Rejecting twice changes nothing, so a resend racing
        the first is harmless; the record then makes it answer as a resend."""
        with self._db.reading() as uow:
            order_id = self._ours(uow, caller, event)
            earlier = uow.received.get(caller.party_id, event.event_id)
        if earlier is not None:
            return Received(earlier, applied=False)
        if order_id is not None:
            self._orders.partner_refused(order_id, caller.party_id, federation.WITHDRAWN)
        with self._db.writing() as uow:
            if not uow.received.claim(caller.party_id, event.event_id, topic, answer["eventTime"]):
                return Received(answer, applied=False)
            uow.received.answer(caller.party_id, event.event_id, answer)
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
        order_id: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Events on a topic that the caller may see, newest first, in its own view
        (with ``order_id``: one order's, its timeline in the console)."""
        hub.require_topic(topic)
        with self._db.reading() as uow:
            viewer = callers.viewer(uow.parties, caller)
            total, found = uow.events.listing(
                viewer, topic, offset, limit, event_types, order_id=order_id
            )
        href_base = self._db.publisher.order_href_base
        docs = []
        for event in found:
            key = notifications.audience(viewer, event)
            doc = None if key is None else notifications.render(event, key, href_base)
            if doc is not None:
                docs.append(doc)
        return total, docs

    def newest(self, caller: Caller, topics: Sequence[str]) -> str:
        """A marker of the newest event the caller may list on each topic; it changes
        whenever one arrives (what an open console page polls)."""
        with self._db.reading() as uow:
            viewer = callers.viewer(uow.parties, caller)
            return "|".join(uow.events.newest(viewer, hub.require_topic(t)) or "" for t in topics)


def _from_partner(
    event: inbound.OrderEvent, order_id: str, awaiting: list[tuple[str | None, str]]
) -> Patcher:
    """A partner's event as the change it stands for on our order (``federation.py``).

    An information request is re-addressed to our order (and item, under the same id),
    unless it is how the partner tells its refusal of a change (its copy carries the
    ``changeRefused`` message for that field): the refusal is what it reports, and its
    copy's state and messages carry it, as in its other events."""
    if event.event_type != notifications.INFORMATION_REQUIRED or federation.refusal_told(
        event.resource, event.field_path
    ):
        return federation.up_patcher(event.resource, awaiting)
    _, item_path, item = (event.resource_path or "").strip().partition("/productOrderItem/")
    ours = replace(
        event,
        order_id=order_id,
        resource={"id": order_id},
        resource_path=f"/productOrder/{order_id}"
        + (f"/productOrderItem/{item}" if item_path else ""),
    )
    return inbound.patcher(ours)
