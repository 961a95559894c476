"""The event hub's registrations: topics, callback targets and filter queries.

Pure rules: which topics exist (PSI-01-02-01-02), which callback hosts are
allowed (PSI-01-02-02-03), what a filter query may say (PSI-01-02-02-02,
TOD-01-02-02 syntax) and who may see or remove a registration (its owner,
governance sees all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import BusinessRuleViolation, NotFound
from .identity import Caller
from .query import values_at

TOPICS = ("order", "inquiry", "alarm")

#: The seed's five notifications and the TMF622 (v4 and v5) event names they are.
TMF_EVENT_NAMES = {
    "orderCreationNotification": "ProductOrderCreateEvent",
    "orderStateChangeNotification": "ProductOrderStateChangeEvent",
    "orderValueChangeNotification": "ProductOrderAttributeValueChangeEvent",
    "orderInformationRequiredNotification": "ProductOrderInformationRequiredEvent",
    "orderRemoveNotification": "ProductOrderDeleteEvent",
}


def require_topic(topic: str) -> str:
    if topic not in TOPICS:
        raise NotFound(f"topic '{topic}' not found (topics: {', '.join(TOPICS)})")
    return topic


def callback_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a callback URL; 422 when it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BusinessRuleViolation(f"callback '{url}' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BusinessRuleViolation(f"callback '{url}' must be an http or https URL")
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def check_allowed_host(url: str, allowed: Iterable[str]) -> None:
    """PSI-01-02-02-03: callbacks only to allow-listed ``host:port`` entries."""
    _, host, port = callback_target(url)
    if f"{host}:{port}" not in {entry.strip().lower() for entry in allowed}:
        raise BusinessRuleViolation(
            f"callback host '{host}:{port}' is not allowed (PSS_CALLBACK_ALLOWED_HOSTS)"
        )


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
            if not sep or not path or not all(_is_name(s) for s in path.split(".")):
                raise BusinessRuleViolation(
                    f"query: '{part}' is not 'attribute.path=value' (terms are joined by '&')"
                )
            terms.append((path, value))
        return cls(tuple(terms))

    def matches(self, event: Mapping[str, Any]) -> bool:
        for path, wanted in self.terms:
            if path == "eventType":
                kind = str(event.get("eventType"))
                if wanted not in (kind, TMF_EVENT_NAMES.get(kind)):
                    return False
                continue
            found = values_at(event, path.split("."))
            if not any(_text(v) == wanted for v in found if not isinstance(v, (dict, list))):
                return False
        return True


def _is_name(segment: str) -> bool:
    return bool(segment) and all(ch.isalnum() or ch in "@_-" for ch in segment)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    owner_id: str
    owner_roles: tuple[str, ...]
    topic: str
    callback: str
    query: str | None
    state: str = "active"

    def visible_to(self, caller: Caller) -> bool:
        return caller.is_governance or caller.party_id == self.owner_id
