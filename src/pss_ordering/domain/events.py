"""Domain events an order change records; the service stores them with the change.

They are facts in the past tense, named by the PSI notification they become
(orderCreationNotification, ...) and the event-hub topic they are published on.
``domain/notifications.py`` renders them for each audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .timestamps import Instant


class EventType(StrEnum):
    """The PSI notifications (and the alarm) an order change becomes: ``eventType`` on
    the wire, in stored events and in registrations' queries."""

    ORDER_CREATION = "orderCreationNotification"
    ORDER_VALUE_CHANGE = "orderValueChangeNotification"
    ORDER_STATE_CHANGE = "orderStateChangeNotification"
    ORDER_REMOVE = "orderRemoveNotification"
    ORDER_INFORMATION_REQUIRED = "orderInformationRequiredNotification"
    ALARM_CREATE = "AlarmCreateEvent"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    order_id: str
    occurred_at: Instant
    notification: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    topic: str = "order"


@dataclass(frozen=True, slots=True)
class OrderCreated(DomainEvent):
    notification: str = EventType.ORDER_CREATION


@dataclass(frozen=True, slots=True)
class OrderValuesChanged(DomainEvent):
    notification: str = EventType.ORDER_VALUE_CHANGE


@dataclass(frozen=True, slots=True)
class OrderStateChanged(DomainEvent):
    notification: str = EventType.ORDER_STATE_CHANGE


@dataclass(frozen=True, slots=True)
class OrderRemoved(DomainEvent):
    notification: str = EventType.ORDER_REMOVE


@dataclass(frozen=True, slots=True)
class OrderInformationRequired(DomainEvent):
    """Details carry ``resourcePath`` and ``fieldPath`` exactly as seed 001 shows them."""

    notification: str = EventType.ORDER_INFORMATION_REQUIRED


BREACH = "responseTimeExceeded"


@dataclass(frozen=True, slots=True)
class ResponseTimeExceeded(DomainEvent):
    """A provider let its response deadline pass: an alarm for governance and the
    provider concerned (topic ``alarm``; details name the provider and the alarm)."""

    notification: str = EventType.ALARM_CREATE
    topic: str = "alarm"


@dataclass(frozen=True, slots=True)
class Bookkeeping(DomainEvent):
    """A change of the order's bookkeeping that consequences follow (timers, the order it
    replaces): handled when the order is saved (``service/handlers.py``), never published."""


@dataclass(frozen=True, slots=True)
class InformationAwaited(Bookkeeping):
    """The order began to wait for information; its items' offerings may shorten the wait."""

    offering_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class InformationSettled(Bookkeeping):
    """The order no longer waits for information: supplied, or the order ended."""


@dataclass(frozen=True, slots=True)
class DeadlineStarted(Bookkeeping):
    """A provider owes its first answer, by ``due_at`` (None: no response time applies)."""

    provider_id: str = ""
    due_at: Instant | None = None


@dataclass(frozen=True, slots=True)
class DeadlineClosed(Bookkeeping):
    """A provider's deadline closed: it answered, or its answer became moot."""

    provider_id: str = ""


@dataclass(frozen=True, slots=True)
class ReplacementAccepted(Bookkeeping):
    """The order left pending for acceptance: the order it replaces is to be cancelled."""

    replaced_id: str = ""
