"""What the event hub sends: topics, notification names, envelopes and filter queries.

Pure: the hub decides *who* receives an event through :mod:`visibility`
(need-to-know, PSI-01-02-03-04) and *whether* through :func:`FilterQuery.matches`
(PSI-01-02-03-05), both on the envelope the receiver would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BusinessRuleViolation
from .query import values_at

TOPICS = ("order", "inquiry", "alarm")
ORDER_DOMAIN = "productOrdering"

#: The seed's five notifications and the TMF622 (v4 and v5) event names they are.
TMF_EVENT_NAMES = {
    "orderCreationNotification": "ProductOrderCreateEvent",
    "orderStateChangeNotification": "ProductOrderStateChangeEvent",
    "orderValueChangeNotification": "ProductOrderAttributeValueChangeEvent",
    "orderInformationRequiredNotification": "ProductOrderInformationRequiredEvent",
    "orderRemoveNotification": "ProductOrderDeleteEvent",
}
SEED_NAMES = {tmf: seed for seed, tmf in TMF_EVENT_NAMES.items()}


def envelope(
    *,
    event_id: str,
    event_time: str,
    event_type: str,
    correlation_id: str,
    order_view: Mapping[str, Any],
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """A PSID688 ``Event`` carrying the order as its receiver may see it."""
    body: dict[str, Any] = {
        "@type": "Event",
        "eventId": event_id,
        "eventTime": event_time,
        "eventType": event_type,
        "correlationId": correlation_id,
        "domain": ORDER_DOMAIN,
        "title": TMF_EVENT_NAMES.get(event_type, event_type),
        "event": {"productOrder": dict(order_view)},
    }
    if event_type == "orderInformationRequiredNotification":
        body["resourcePath"] = details.get("resourcePath")
        body["fieldPath"] = details.get("fieldPath")
    return body


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """TOD-01-02-02 filter: ``a.b.c=v`` terms joined by ``&`` (AND); lists match any element.

    ``eventType`` matches the seed name or its TMF622 event name alike.
    """

    terms: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str | None) -> FilterQuery:
        """Refuse a malformed query at registration, not at delivery (422)."""
        if text is None or not text.strip():
            return cls(())
        terms: list[tuple[str, str]] = []
        for part in text.split("&"):
            path, sep, value = part.partition("=")
            path = path.strip()
            segments = path.split(".")
            if not sep or not path or any(not s or not _is_name(s) for s in segments):
                raise BusinessRuleViolation(
                    f"query: '{part}' is not 'attribute.path=value' (terms are joined by '&')"
                )
            terms.append((path, value))
        return cls(tuple(terms))

    def matches(self, envelope_: Mapping[str, Any]) -> bool:
        for path, wanted in self.terms:
            if path == "eventType":
                names = {
                    envelope_.get("eventType"),
                    TMF_EVENT_NAMES.get(str(envelope_.get("eventType"))),
                }
                if wanted not in names:
                    return False
                continue
            found = values_at(envelope_, path.split("."))
            if not any(_text(v) == wanted for v in found if not isinstance(v, (dict, list))):
                return False
        return True


def _is_name(segment: str) -> bool:
    return all(ch.isalnum() or ch in "@_-" for ch in segment)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
