"""Domain events an order change records; the service stores them with the change.

They are facts in the past tense, named by the PSI notification they become
(orderCreationNotification, ...) and the event-hub topic they are published on.
``domain/notifications.py`` renders them for each audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DomainEvent:
    order_id: str
    occurred_at: str
    notification: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    topic: str = "order"


@dataclass(frozen=True, slots=True)
class OrderCreated(DomainEvent):
    notification: str = "orderCreationNotification"


@dataclass(frozen=True, slots=True)
class OrderValuesChanged(DomainEvent):
    notification: str = "orderValueChangeNotification"


@dataclass(frozen=True, slots=True)
class OrderStateChanged(DomainEvent):
    notification: str = "orderStateChangeNotification"


@dataclass(frozen=True, slots=True)
class OrderRemoved(DomainEvent):
    notification: str = "orderRemoveNotification"


@dataclass(frozen=True, slots=True)
class OrderInformationRequired(DomainEvent):
    """Details carry ``resourcePath`` and ``fieldPath`` exactly as seed 001 shows them."""

    notification: str = "orderInformationRequiredNotification"


BREACH = "responseTimeExceeded"


@dataclass(frozen=True, slots=True)
class ResponseTimeExceeded(DomainEvent):
    """A provider let its response deadline pass: an alarm for governance and the
    provider concerned (topic ``alarm``; details name the provider and the alarm)."""

    notification: str = "AlarmCreateEvent"
    topic: str = "alarm"
