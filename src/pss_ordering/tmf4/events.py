"""TMF622 v4 notifications: the same stored events, in v4 envelopes, to v4 listeners.

A v4 hub registration (``POST .../v4/hub``) is a registration on its own topic
(:data:`HUB_TOPIC`) that hears every order-topic event, with the same
need-to-know and filter rules as any other; its deliveries carry the audience
key prefixed with :data:`PREFIX`, and are rendered for that audience (the same
view) and then put in v4 shape: the TMF622 v4 event name as ``eventType``
(``ProductOrderCreateEvent``, ``ProductOrderStateChangeEvent``,
``ProductOrderAttributeValueChangeEvent``, ``ProductOrderInformationRequiredEvent``,
``ProductOrderDeleteEvent``), the order as a v4 document with a v4 ``href``. As
TMF's v4 client-side listener paths say, each is POSTed to
``{callback}/listener/{eventName}`` (``.../listener/productOrderCreateEvent``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain import hub, notifications
from ..domain.notifications import StoredEvent
from .documents import order_to_v4

BASE = "/tmf-api/productOrderingManagement/v4"
ORDER_PATH = BASE + "/productOrder"
HUB_TOPIC = "order.v4"
PREFIX = "v4:"
_ENVELOPE = ("eventId", "eventTime", "correlationId", "domain", "resourcePath", "fieldPath")


def audience(v5_audience: str) -> str:
    """The delivery audience of a v4 registration that may receive ``v5_audience``."""
    return PREFIX + v5_audience


def render(
    event: StoredEvent, audience_key: str, v5_order_base: str, v4_order_base: str
) -> dict[str, Any] | None:
    """The envelope this audience receives: PSID688's, or TMF622 v4's for a v4 key."""
    if not audience_key.startswith(PREFIX):
        return notifications.render(event, audience_key, v5_order_base)
    envelope = notifications.render(event, audience_key[len(PREFIX) :], v4_order_base)
    return None if envelope is None else envelope_to_v4(envelope)


def event_types() -> frozenset[str]:
    """The ``eventType`` of every event a v4 hub hears: the order topic's, by TMF name."""
    return frozenset(
        notifications.TMF_EVENT_NAMES.get(kind, kind) for kind in hub.event_types("order")
    )


def envelope_to_v4(envelope: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(envelope.get("eventType"))
    name = notifications.TMF_EVENT_NAMES.get(kind, kind)
    out: dict[str, Any] = {"id": envelope.get("eventId"), "eventType": name, "title": name}
    out.update((k, envelope[k]) for k in _ENVELOPE if envelope.get(k) is not None)
    out["timeOcurred"] = envelope.get("eventTime")  # sic: TMF622 v4's spelling
    order = (envelope.get("event") or {}).get("productOrder")
    out["event"] = {"productOrder": order_to_v4(order) if isinstance(order, Mapping) else order}
    return out


def listener_path(audience_key: str, envelope: Mapping[str, Any] | None) -> str:
    """The v4 listener path a delivery goes to under its callback ('' for PSID688's)."""
    if not audience_key.startswith(PREFIX) or envelope is None:
        return ""
    name = str(envelope.get("eventType") or "")
    return f"/listener/{name[:1].lower()}{name[1:]}"


def target(callback: str, path: str) -> str:
    """Where a delivery is POSTed: the callback itself, or a listener path under it."""
    return f"{callback.rstrip('/')}{path}" if path else callback
