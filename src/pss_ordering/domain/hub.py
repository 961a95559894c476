"""The event hub's registrations: topics, callback targets and filter queries.

Pure rules: which topics exist (PSI-01-02-01-02), which callback hosts are
allowed (PSI-01-02-02-03), what a filter query may say (PSI-01-02-02-02,
TOD-01-02-02 syntax) and who may see or remove a registration (its owner,
governance sees all).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any
from urllib.parse import urlsplit

from .errors import BusinessRuleViolation, InvalidQuery, NotFound
from .events import DomainEvent
from .identity import Caller, Role
from .notifications import TMF_EVENT_NAMES
from .query import Shape, check_path, check_value, known_parts, values_at

TOPICS = ("order", "inquiry", "alarm")


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
class AddressPolicy:
    """Which addresses an allow-listed *name* may resolve to when the PSS connects.

    The allow-list names hosts; DNS can later point a name somewhere else (an
    internal service, the cloud metadata endpoint). So after resolution an
    address must be public, or inside a network the operator allowed
    (``PSS_CALLBACK_ALLOWED_NETWORKS``). A host allow-listed as an IP literal is
    never resolved and needs no network entry.
    """

    networks: tuple[IPv4Network | IPv6Network, ...] = ()

    @classmethod
    def of(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ip_network(n, strict=False) for n in networks))

    def allows(self, address: str) -> bool:
        try:
            ip = ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                ip = embedded  # the IPv4 host it reaches is what matters
        return ip.is_global or any(ip in network for network in self.networks)

    def refusal(self, host: str, addresses: Iterable[str]) -> str | None:
        """Why connecting to ``host`` at these (resolved) addresses is refused, or None
        when one of them is allowed. The same words at registration and at sending."""
        found = sorted(set(addresses))
        if not found or any(self.allows(address) for address in found):
            return None
        return (
            f"callback host '{host}' resolves to {', '.join(found)}, which is not an allowed "
            "address (public, or inside PSS_CALLBACK_ALLOWED_NETWORKS)"
        )


_NAT64 = ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped ``::ffff:a.b.c.d``, NAT64, 6to4)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


@cache
def event_types(topic: str) -> frozenset[str]:
    """Every ``eventType`` a callback on ``topic`` can hear: the notifications recorded
    there (domain/events.py) and their TMF names."""
    found: set[str] = set()
    for kind in _kinds(DomainEvent):
        defaults = {f.name: f.default for f in fields(kind)}
        if defaults["topic"] == topic and defaults["notification"]:
            notification = str(defaults["notification"])
            found.add(notification)
            found.add(TMF_EVENT_NAMES.get(notification, notification))
    return frozenset(found)


def _kinds(base: type[DomainEvent]) -> Iterator[type[DomainEvent]]:
    for kind in base.__subclasses__():
        yield kind
        yield from _kinds(kind)


def check_event_types(query: FilterQuery, topic: str, known: frozenset[str] | None = None) -> None:
    """A query naming an ``eventType`` nothing on the topic is ever published as would
    leave its callback waiting for ever: refused at registration (422). ``known``: the
    names a topic's callbacks hear when not the topic's own (a TMF622 v4 hub's)."""
    known = event_types(topic) if known is None else known
    for path, wanted in query.terms:
        if path == "eventType" and wanted not in known:
            near = difflib.get_close_matches(wanted, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            listed = ", ".join(sorted(known)) or "none"
            raise BusinessRuleViolation(
                f"query: no event of type '{wanted}' is published on topic '{topic}'{hint}; "
                f"its event types: {listed}"
            )


def check_query_paths(query: FilterQuery, envelope: Shape, resource: Shape) -> None:
    """Every path of a query names something its events can carry, and an enumerated one
    a value it can take: in the envelope (``envelope``), or, as TOD-01-02-02 lets a path
    leave the resource out (``event.priority``, ``state``), in the resource
    (``resource``). A typo would match nothing, ever: refused at registration (422)."""
    for path, wanted in query.terms:
        if path == "eventType":
            continue
        parts = path.split(".")
        rest = ".".join(parts[1:] if parts[0] == "event" else parts)
        readings = [(path, envelope, known_parts(path, envelope) - (parts[0] == "event"))]
        if rest:
            readings.append((rest, resource, known_parts(rest, resource)))
        errors: list[tuple[int, bool, str]] = []
        for name, shape, depth in readings:
            try:
                check_value(check_path(name, shape, path), wanted, path)
                break
            except InvalidQuery as exc:
                errors.append((depth, "did you mean" in exc.message, exc.message))
        else:
            # The reading that got further, else the one with a suggestion, names the typo.
            raise BusinessRuleViolation(f"query: {max(errors)[2]}")


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """TOD-01-02-02 filter: ``a.b.c=v`` terms joined by ``&`` (AND); lists match any element.

    Paths go into the event envelope (``eventType``,
    ``event.productOrder.productOrderItem.productOffering.id``). As in the
    TOD-01-02-02 examples, a path may also leave out the resource:
    ``event.priority`` and plain ``state`` are looked up in the resource
    under ``event`` when the envelope has no such attribute. ``eventType``
    matches the seed name or its TMF622 event name alike.
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
            found = _resolve(event, path.split("."))
            if not any(_text(v) == wanted for v in found if not isinstance(v, (dict, list))):
                return False
        return True


def _resolve(event: Mapping[str, Any], path: list[str]) -> list[Any]:
    """Values at ``path`` in the envelope, else in the resource(s) it carries."""
    found = list(values_at(event, path))
    if found:
        return found
    resources = event.get("event")
    if not isinstance(resources, Mapping):
        return []
    rest = path[1:] if path[0] == "event" else path
    if not rest or (path[0] != "event" and path[0] in event):
        return []
    return [value for resource in resources.values() for value in values_at(resource, rest)]


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

    @property
    def owner(self) -> Caller:
        """The registering party, with the roles it had when it registered."""
        return Caller(self.owner_id, frozenset(Role(r) for r in self.owner_roles))


@dataclass(frozen=True, slots=True)
class CallbackHealth:
    """How delivery to one callback is going (PSI-01-02-03-07: halted until resumed).

    ``state`` (on the subscription) is ``active``, ``halted`` after the last
    retry failed, or ``disabled`` after the receiver answered 410 Gone.
    """

    subscription: Subscription
    failures: int
    retry_at: str | None
    last_attempt_at: str | None
    last_success_at: str | None
    last_status: int | None
    last_error: str | None
    delivered: int
    pending: int = 0
