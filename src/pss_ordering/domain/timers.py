"""The kinds of durable timer an order's changes arm, each a row until it fires or is
cleared. The value is what the ``timers.kind`` column holds."""

from __future__ import annotations

from enum import StrEnum


class TimerKind(StrEnum):
    #: the customer did not supply the information required in time: cancel the order
    INFORMATION_REQUIRED = "informationRequired"
    #: a provider's response deadline (subject: the provider): record the breach
    RESPONSE_DEADLINE = "responseDeadline"
    #: the ``reject`` breach policy's grace period after a breach (subject: the provider)
    RESPONSE_GRACE = "responseGrace"
