"""Product order use cases: create, read, list, update, delete, and the timers firing.

What a change arms, clears or cancels besides follows from the events the order
recorded (:mod:`.handlers`): a use case changes the order and hands it over.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..clock import Clock
from ..domain import changes, deadlines, federation, orders, progress, query, visibility
from ..domain.errors import Forbidden, NotFound, PreconditionFailed
from ..domain.events import OrderRemoved
from ..domain.identity import Caller, Role
from ..domain.lifecycle import State
from ..domain.parties import Party
from ..domain.timestamps import Instant, format_instant
from ..ids import new_id
from ..store.parties import prefetch
from ..store.timers import Timer
from . import callers
from .handlers import ChangedConcurrently, Consequences, ResponseTimePolicy
from .unit_of_work import Database, UnitOfWork

Patcher = Callable[[dict[str, Any]], dict[str, Any]]
MAX_PATCH_ATTEMPTS = 5
DEFAULT_COUNT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as one caller may see it, with the version its ETag is made from."""

    doc: dict[str, Any]
    version: int


@dataclass(frozen=True, slots=True)
class Listing:
    """A list request with whom it is for resolved: the caller and the customers it
    represents. ``bounded``: the list costs a bounded number of index reads whatever
    the data, so it may run inline (``Executor.read_sized``)."""

    viewer: visibility.Viewer
    query: query.Query
    bounded: bool


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of a list, and how many orders matched: exactly, or (``total`` None) more
    than ``count_limit``, where counting stopped (README, "Lists and counts")."""

    total: int | None
    docs: list[dict[str, Any]]
    count_limit: int


class OrderService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        info_timeout: timedelta = timedelta(days=7),
        response_time: ResponseTimePolicy | None = None,
        count_limit: int = DEFAULT_COUNT_LIMIT,
    ) -> None:
        self._db = database
        self._clock = clock
        self._then = Consequences(clock, info_timeout, response_time)
        self._count_limit = count_limit

    def _now(self) -> Instant:
        return format_instant(self._clock.now())

    def create(self, caller: Caller, body: dict[str, Any]) -> OrderView:
        with self._db.writing() as uow:
            view = self.create_in(uow, caller, body)
            uow.commit()
        return view

    def create_in(self, uow: UnitOfWork, caller: Caller, body: dict[str, Any]) -> OrderView:
        """Create within the caller's unit of work (which commits): a creation event
        creates through here, in one transaction with the record that makes it
        idempotent, so it obeys exactly the rules of POST."""
        customer_id = orders.requested_customer_id(caller, body)
        # What the rules and the publishing will ask for, in one round trip: the
        # caller's community, the customer (and whom it belongs to), the offerings
        # with their providers.
        prefetch(
            uow.parties,
            uow.offerings,
            party_ids=(customer_id,),
            communities=(caller.party_id,) if caller.has(Role.CUSTOMER) else (),
            ancestors=(customer_id,),
            offering_ids=orders.referenced_offering_ids(body),
        )
        viewer = callers.viewer(uow.parties, caller)
        replaced_id = orders.replaced_order_id(body)
        replaced = uow.orders.get(replaced_id, lock=True) if replaced_id else None
        if replaced is not None and not orders.owns(caller, viewer.represented, replaced):
            replaced = None  # not the caller's to cancel: to the rules it does not exist
        customer = uow.parties.get(customer_id)
        acting_for_other = caller.has(Role.PSS) and customer_id != caller.party_id
        ctx = orders.OrderingContext(
            caller=caller,
            represented=viewer.represented,
            offerings=uow.offerings.get_many(orders.referenced_offering_ids(body)),
            customer=customer,
            replaced=replaced,
            replacement_taken=bool(replaced and uow.orders.replacement_exists(replaced.id)),
            customer_profiles=_with_organisations(uow, customer) if acting_for_other else (),
            caller_profile=uow.parties.get(caller.party_id) if acting_for_other else None,
        )
        order = orders.create_order(ctx, body, new_id(), self._now())
        self._then.add(uow, order)
        return OrderView(order.doc, order.version)

    def get(self, caller: Caller, order_id: str) -> OrderView:
        with self._db.reading() as uow:
            return self.get_in(uow, caller, order_id)

    def get_in(self, uow: UnitOfWork, caller: Caller, order_id: str) -> OrderView:
        """The caller's view, within a unit of work (404 alike for missing and not visible)."""
        _, order, doc = _visible(uow, caller, order_id)
        return OrderView(doc, order.version)

    def list(self, caller: Caller, q: query.Query) -> OrderPage:
        return self.page(self.listing(caller, q))

    def listing(self, caller: Caller, q: query.Query) -> Listing:
        """Whom a list is for, and whether its cost is bounded (a point read)."""
        with self._db.reading() as uow:
            viewer = callers.viewer(uow.parties, caller)
            bounded = uow.orders.bounded(viewer, q, self._count_limit)
        return Listing(viewer, q, bounded)

    def page(self, listing: Listing) -> OrderPage:
        """A page of the orders the caller may see, in its views; the total while it is
        at most the count limit (see :class:`OrderPage`)."""
        viewer, q = listing.viewer, listing.query
        with self._db.reading() as uow:
            found = uow.orders.matching(viewer, q, count_limit=self._count_limit)
        docs = [doc for o in found.orders if (doc := visibility.view(viewer, o)) is not None]
        if found.paged:
            return OrderPage(found.total, docs, self._count_limit)
        total, page = query.evaluate(docs, found.residual, found.residual_sort, q.offset, q.limit)
        return OrderPage(total, page, self._count_limit)

    def patch(
        self,
        caller: Caller,
        order_id: str,
        patcher: Patcher,
        validate: Callable[[dict[str, Any]], None],
        if_match: int | None,
    ) -> OrderView:
        """Apply a patch to the caller's view of the current version, atomically.

        The order's row is locked while the patch is applied, so a customer's and
        a provider's concurrent changes queue and both land. The versioned update
        is a second guard: should it ever lose, the patch is re-applied to the
        new version (or refused with 412 when the caller named a version).
        """
        for _ in range(MAX_PATCH_ATTEMPTS):
            with self._db.writing() as uow:
                result = self.apply_patch(uow, caller, order_id, patcher, validate, if_match)
                if result is not None:
                    uow.commit()
                    return result
            if if_match is not None:
                raise PreconditionFailed(f"productOrder '{order_id}' changed concurrently")
        raise PreconditionFailed(f"productOrder '{order_id}' is too busy; retry the update")

    def apply_patch(
        self,
        uow: UnitOfWork,
        caller: Caller,
        order_id: str,
        patcher: Patcher,
        validate: Callable[[dict[str, Any]], None],
        if_match: int | None = None,
        *,
        unchanged_ok: bool = False,
    ) -> OrderView | None:
        """One attempt within the caller's unit of work (which commits); None if it lost
        the versioned update to a concurrent change. Received events apply through here
        too, so they obey exactly the rules of PATCH; but an event that asks for what
        already holds (``unchanged_ok``) is accepted and changes nothing, even on a final
        order: two systems telling each other their state converge instead of failing."""
        viewer, order, before = _visible(uow, caller, order_id, lock=True)
        if if_match is not None and if_match != order.version:
            raise PreconditionFailed(
                f"productOrder '{order_id}' is at version {order.version}, not {if_match}"
            )
        after = patcher(copy.deepcopy(before))
        validate(after)
        if unchanged_ok and not changes.changed_fields(before, after):
            return OrderView(before, order.version)
        # The customer for the rules, whom it belongs to for publishing: one round trip.
        prefetch(
            uow.parties,
            uow.offerings,
            party_ids=(order.customer_id,),
            ancestors=(order.customer_id,),
            offering_ids=orders.referenced_offering_ids(after)
            if order.state == State.DRAFT
            else (),
        )
        ctx = changes.ChangeContext(
            customer=uow.parties.get(order.customer_id),
            offerings=uow.offerings.get_many(orders.referenced_offering_ids(after))
            if order.state == State.DRAFT
            else {},
        )
        if not changes.apply_changes(viewer, order, before, after, ctx, self._now()):
            return OrderView(before, order.version)
        try:
            self._then.save(uow, order)
        except ChangedConcurrently:
            return None
        result = visibility.view(viewer, order)
        if result is None:
            raise NotFound(f"productOrder '{order_id}' not found")
        return OrderView(result, order.version)

    def partner_refused(self, order_id: str, partner_id: str, reason: str) -> None:
        """A partner PSS refused the items forwarded to it: they are rejected, as if
        their provider had rejected them, with the partner's reason on the order."""
        with self._db.writing() as uow:
            order = uow.orders.get(order_id, lock=True)
            if order is None:
                return
            if not federation.refuse_items(order, partner_id, reason, self._now()):
                return
            self._then.save(uow, order)
            uow.commit()

    def deadline_passed(self, uow: UnitOfWork, timer: Timer) -> None:
        """A provider's response deadline fell due: record the breach (if still unanswered)."""
        now = self._now()
        self._change_by_timer(uow, timer, lambda order: deadlines.breach(order, timer.subject, now))

    def grace_expired(self, uow: UnitOfWork, timer: Timer) -> None:
        """The ``reject`` breach policy: still unanswered after the grace period."""
        now, grace = self._now(), self._then.response_time.grace
        self._change_by_timer(
            uow, timer, lambda order: deadlines.expire(order, timer.subject, now, grace)
        )

    def _change_by_timer(
        self, uow: UnitOfWork, timer: Timer, change: Callable[[orders.ProductOrder], bool]
    ) -> None:
        """Apply a timer's change to its order and save it with what follows, if any."""
        order = uow.orders.get(timer.order_id, lock=True)
        if order is not None and change(order):
            self._then.save(uow, order)

    def information_timed_out(self, uow: UnitOfWork, timer: Timer) -> None:
        """The customer did not supply what was missing in time: cancel the order."""
        order = uow.orders.get(timer.order_id, lock=True)
        if order is None or not order.missing:
            return
        reason = (
            "cancelled automatically: the information required was not supplied within "
            f"{timer.payload.get('timeout', 'the time frame')}"
        )
        progress.cancel(order, reason, self._now())
        self._then.save(uow, order)

    def delete(self, caller: Caller, order_id: str) -> None:
        with self._db.writing() as uow:
            _, order, _ = _visible(uow, caller, order_id, lock=True)
            if not caller.is_governance:
                raise Forbidden("only governance may delete product orders")
            order.events.append(OrderRemoved(order_id=order.id, occurred_at=self._now()))
            deadlines.withdraw(order, self._now())
            self._then.remove(uow, order)
            uow.commit()


def _with_organisations(uow: UnitOfWork, party: Party | None) -> tuple[Party, ...]:
    """A party's profile and those of the organisations it (transitively) belongs to."""
    if party is None:
        return ()
    others = sorted(uow.parties.represented_by(party.id) - {party.id})
    return (party, *(p for p in map(uow.parties.get, others) if p is not None))


def _visible(
    uow: UnitOfWork, caller: Caller, order_id: str, *, lock: bool = False
) -> tuple[visibility.Viewer, orders.ProductOrder, dict[str, Any]]:
    """The order and the caller's view of it; 404 alike for missing and not visible."""
    order = uow.orders.get(order_id, lock=lock)
    viewer = callers.viewer_of(uow.parties, caller, order)
    doc = None if order is None else visibility.view(viewer, order)
    if order is None or doc is None:
        raise NotFound(f"productOrder '{order_id}' not found")
    return viewer, order, doc
