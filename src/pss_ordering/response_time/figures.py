"""Response-time figures per provider, and the list of breaches (governance; a provider
may read its own). Counted by when deadlines started (breaches: when they were breached)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..domain.errors import Forbidden, InvalidQuery
from ..domain.identity import Caller, Role
from ..domain.timestamps import format_instant, normalise_instant
from ..service.unit_of_work import Database
from .repository import Window

BREACH_STATES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class ProviderFigures:
    provider_id: str
    received: int
    on_time: int
    late: int
    open: int
    open_past_deadline: int
    breaches: int
    without_deadline: int
    p50: float | None
    p95: float | None
    max: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": {"id": self.provider_id},
            "ordersReceived": self.received,
            "acknowledgedOnTime": self.on_time,
            "acknowledgedLate": self.late,
            "open": self.open,
            "openPastDeadline": self.open_past_deadline,
            "breaches": self.breaches,
            "withoutDeadline": self.without_deadline,
            "responseTimeSeconds": {"p50": self.p50, "p95": self.p95, "max": self.max},
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values (None for none)."""
    if not values:
        return None
    return values[max(math.ceil(q * len(values)) - 1, 0)]


class FiguresService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def figures(
        self, caller: Caller, provider: str | None, start: str | None, end: str | None
    ) -> list[ProviderFigures]:
        window = _window(caller, provider, start, end)
        with self._db.reading() as uow:
            counts = uow.response_times.counts(window, format_instant(self._clock.now()))
            seconds = uow.response_times.response_seconds(window)
        return [
            ProviderFigures(
                provider_id=row["provider_id"],
                received=int(row["received"]),
                on_time=int(row["on_time"]),
                late=int(row["late"]),
                open=int(row["open"]),
                open_past_deadline=int(row["open_past_deadline"]),
                breaches=int(row["breaches"]),
                without_deadline=int(row["without_deadline"]),
                p50=percentile(seconds.get(row["provider_id"], []), 0.5),
                p95=percentile(seconds.get(row["provider_id"], []), 0.95),
                max=percentile(seconds.get(row["provider_id"], []), 1.0),
            )
            for row in counts
        ]

    def breaches(
        self,
        caller: Caller,
        provider: str | None,
        start: str | None,
        end: str | None,
        state: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        if state is not None and state not in BREACH_STATES:
            raise InvalidQuery(f"state must be one of {', '.join(BREACH_STATES)}")
        window = _window(caller, provider, start, end)
        with self._db.reading() as uow:
            total, rows = uow.response_times.breaches(window, state, offset, limit)
        return total, [_breach(row) for row in rows]


def _window(caller: Caller, provider: str | None, start: str | None, end: str | None) -> Window:
    """Governance reads every provider's figures; a provider only its own."""
    if not caller.is_governance:
        if not caller.has(Role.PROVIDER):
            raise Forbidden("response-time figures are for governance and providers")
        if provider not in (None, caller.party_id):
            raise Forbidden("a provider may read its own response-time figures only")
        provider = caller.party_id
    try:
        return Window(
            provider,
            normalise_instant(start) if start else None,
            normalise_instant(end) if end else None,
        )
    except ValueError:
        raise InvalidQuery("from and to must be ISO-8601 date-times") from None


def _breach(row: Any) -> dict[str, Any]:
    still_open = row.responded_at is None and row.closed_at is None
    doc: dict[str, Any] = {
        "id": f"{row.order_id}:{row.provider_id}",
        "productOrder": {"id": row.order_id},
        "provider": {"id": row.provider_id},
        "state": "open" if still_open else "closed",
        "startedAt": row.started_at,
        "responseTime": row.response_time,
        "deadline": row.due_at,
        "breachedAt": row.breached_at,
    }
    if row.responded_at is not None:
        doc["acknowledgedAt"] = row.responded_at
        doc["responseSeconds"] = row.response_seconds
    if row.closed_at is not None:
        doc["closedAt"] = row.closed_at
    return doc
