"""One textual form for instants, so that stored dates sort and compare as strings.

:func:`parse_instant` is the one place that reads an instant from a client. An
instant must fall within years 1-9999 *after* conversion to UTC:
``0001-01-01T00:00:00+01:00`` is a valid ISO-8601 text but lies before the first
representable UTC instant, so it is refused like any other malformed instant
(``ValueError``), never left to overflow later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

#: An instant in its one text form (:func:`format_instant`): sortable and comparable as
#: text, on both databases. Only :func:`format_instant` and :func:`normalise_instant`
#: make one, so a client's unnormalised date-time cannot pass for it.
Instant = NewType("Instant", str)
RANGE = "between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"


class InstantOutOfRange(ValueError):
    """A well-formed date-time that is no instant this service can represent."""


def parse_instant(value: str) -> datetime:
    """Parse an ISO-8601 date-time; naive values are taken as UTC. Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO-8601 date-time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InstantOutOfRange(f"'{value[:40]}' is not an instant {RANGE}") from None


def format_instant(moment: datetime) -> Instant:
    """UTC, millisecond precision, ``Z`` suffix: ``2026-11-24T14:30:00.000Z``."""
    u = moment.astimezone(UTC)
    return Instant(
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def normalise_instant(value: str) -> Instant:
    return format_instant(parse_instant(value))
