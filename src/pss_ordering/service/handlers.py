"""What follows a change of an order: handlers of the events the order recorded.

A use case changes an order and hands it to :class:`Consequences` (``add``, ``save``
or ``remove``), which brings the order's bookkeeping up to date (its response
deadlines, :func:`follow_deadlines`), hands every event the order recorded to the
handlers registered for its type in :data:`HANDLERS`, and then writes the order:
a changed one by compare-and-set on its version, and a lost race is an error
(:class:`ChangedConcurrently`), never ignored. So no use case has to remember
which timers a change arms or clears, or what state the order was in before.

Handlers are plain functions of the event and the unit of work (cosmicpython's
``handlers.py``); the :class:`Consequences` they may need (the policy, saving
another order) is bound to them once, when the table is built. Events that only
change the order's bookkeeping (:class:`~..domain.events.Bookkeeping`) are
handled here and never published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from ..clock import Clock
from ..domain import deadlines, progress
from ..domain.durations import format_duration
from ..domain.errors import PreconditionFailed
from ..domain.events import (
    Bookkeeping,
    DeadlineClosed,
    DeadlineStarted,
    DomainEvent,
    InformationAwaited,
    InformationSettled,
    OrderRemoved,
    ReplacementAccepted,
    ResponseTimeExceeded,
)
from ..domain.orders import ProductOrder
from ..domain.timers import TimerKind
from ..domain.timestamps import Instant, format_instant, parse_instant
from .unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ResponseTimePolicy:
    """Settings of the response-time duty: the default, and what follows a breach."""

    default: timedelta | None = timedelta(days=1)
    reject_after_grace: bool = False
    grace: timedelta = timedelta(hours=4)


class ChangedConcurrently(PreconditionFailed):
    """The versioned write of an order lost to a concurrent change (412, as a PATCH
    naming an older version): the use case is retried or the caller sends again."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"productOrder '{order_id}' changed concurrently")


Handler = Callable[[Any, UnitOfWork], None]


class Consequences:
    """Writes orders with what follows from their changes (see the module)."""

    def __init__(
        self,
        clock: Clock,
        info_timeout: timedelta = timedelta(days=7),
        response_time: ResponseTimePolicy | None = None,
    ) -> None:
        self.clock = clock
        self.info_timeout = info_timeout
        self.response_time = response_time or ResponseTimePolicy()
        self._handlers: Mapping[type[DomainEvent], tuple[Handler, ...]] = {
            kind: tuple(partial(handler, follow=self) for handler in handlers)
            for kind, handlers in HANDLERS.items()
        }

    def add(self, uow: UnitOfWork, order: ProductOrder) -> None:
        """Write a new order, with what its creation arms."""
        self._follow(uow, order)
        uow.orders.add(order)

    def save(self, uow: UnitOfWork, order: ProductOrder) -> None:
        """Write a changed order (as loaded in ``uow``) with what follows from the change;
        :class:`ChangedConcurrently` if another change was written first."""
        self._follow(uow, order)
        previous = order.version
        order.version += 1
        if not uow.orders.update(order, previous):
            raise ChangedConcurrently(order.id)

    def remove(self, uow: UnitOfWork, order: ProductOrder) -> None:
        """Delete an order (its removal recorded), with what its removal clears."""
        self._dispatch(uow, order)
        uow.orders.remove(order)

    def _follow(self, uow: UnitOfWork, order: ProductOrder) -> None:
        follow_deadlines(uow, order, self)
        self._dispatch(uow, order)

    def _dispatch(self, uow: UnitOfWork, order: ProductOrder) -> None:
        """Hand each recorded event to its handlers; what remains is to be published."""
        for event in list(order.events):
            for handler in self._handlers.get(type(event), ()):
                handler(event, uow)
        order.events = [e for e in order.events if not isinstance(e, Bookkeeping)]


def follow_deadlines(uow: UnitOfWork, order: ProductOrder, follow: Consequences) -> None:
    """The rules of the response deadlines run with every change, wherever it comes from:
    close those answered or moot, start those now owed (``domain/deadlines.py``), each
    recorded as an event the timers follow."""
    now = format_instant(follow.clock.now())
    deadlines.settle(order, now)
    default = follow.response_time.default
    for provider_id in deadlines.owed(order):
        party = uow.parties.get(provider_id)
        response_time = party.response_time(default) if party is not None else default
        deadlines.start(order, provider_id, now, response_time)


def _due(event: DomainEvent, after: timedelta) -> Instant:
    return format_instant(parse_instant(event.occurred_at) + after)


def arm_information_timer(
    event: InformationAwaited, uow: UnitOfWork, *, follow: Consequences
) -> None:
    """The order began to wait for information: cancel it unless supplied in time (the
    shortest timeout its offerings set, else the default)."""
    offerings = uow.offerings.get_many(event.offering_ids)
    overrides = [t for o in offerings.values() if (t := o.information_timeout)]
    timeout = min(overrides) if overrides else follow.info_timeout
    uow.timers.schedule(
        TimerKind.INFORMATION_REQUIRED,
        event.order_id,
        _due(event, timeout),
        {"timeout": format_duration(timeout)},
        replace=uow.orders.stored(event.order_id),
    )


def clear_information_timer(
    event: InformationSettled, uow: UnitOfWork, *, follow: Consequences
) -> None:
    """Nothing is awaited any more (supplied, or the order ended)."""
    uow.timers.clear(TimerKind.INFORMATION_REQUIRED, event.order_id)


def arm_deadline_timer(event: DeadlineStarted, uow: UnitOfWork, *, follow: Consequences) -> None:
    """A provider owes an answer by its deadline (none when no response time applies)."""
    if event.due_at is not None:
        uow.timers.schedule(
            TimerKind.RESPONSE_DEADLINE,
            event.order_id,
            event.due_at,
            subject=event.provider_id,
            replace=uow.orders.stored(event.order_id),
        )


def clear_deadline_timers(event: DeadlineClosed, uow: UnitOfWork, *, follow: Consequences) -> None:
    """The provider answered, or its answer became moot."""
    for kind in (TimerKind.RESPONSE_DEADLINE, TimerKind.RESPONSE_GRACE):
        uow.timers.clear(kind, event.order_id, event.provider_id)


def arm_grace_timer(event: ResponseTimeExceeded, uow: UnitOfWork, *, follow: Consequences) -> None:
    """The ``reject`` breach policy: the provider's items are rejected after the grace."""
    policy = follow.response_time
    if policy.reject_after_grace:
        provider_id = str(event.details["provider"])
        due = _due(event, policy.grace)
        uow.timers.schedule(TimerKind.RESPONSE_GRACE, event.order_id, due, subject=provider_id)


def cancel_replaced_order(
    event: ReplacementAccepted, uow: UnitOfWork, *, follow: Consequences
) -> None:
    """The replacement was accepted: the order it replaces is cancelled, naming it."""
    old = uow.orders.get(event.replaced_id, lock=True)
    if old is not None:
        progress.cancel_replaced(old, event.order_id, event.occurred_at)
        if old.events:
            follow.save(uow, old)


def clear_timers(event: OrderRemoved, uow: UnitOfWork, *, follow: Consequences) -> None:
    """A removed order waits for nothing."""
    for kind in TimerKind:
        uow.timers.clear(kind, event.order_id)


#: Every consequence, by the event it follows.
HANDLERS: Mapping[type[DomainEvent], tuple[Callable[..., None], ...]] = {
    InformationAwaited: (arm_information_timer,),
    InformationSettled: (clear_information_timer,),
    DeadlineStarted: (arm_deadline_timer,),
    DeadlineClosed: (clear_deadline_timers,),
    ResponseTimeExceeded: (arm_grace_timer,),
    ReplacementAccepted: (cancel_replaced_order,),
    OrderRemoved: (clear_timers,),
}
