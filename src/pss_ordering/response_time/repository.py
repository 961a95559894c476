"""Queries over the response-time projection (``response_deadlines``): the figures, and
whether a response was ever awaited from a provider (a partner PSS) for an order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from ..store.deliveries import PENDING
from ..store.schema import deliveries, response_deadlines, subscriptions

rd = response_deadlines
ANSWERED = rd.c.responded_at.is_not(None)
OPEN = and_(rd.c.responded_at.is_(None), rd.c.closed_at.is_(None))


@dataclass(frozen=True, slots=True)
class Window:
    """``provider`` (None: all), and [start, end) on when deadlines started (None: open)."""

    provider: str | None = None
    start: str | None = None
    end: str | None = None


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class SqlResponseTimes:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def awaited_from(self, provider_id: str, order_ids: Sequence[str]) -> bool:
        """Whether a response was ever awaited from the provider for one of these orders
        (a point read by key; rows outlive the order, until the retention policy's)."""
        if not order_ids:
            return False
        query = select(rd.c.order_id).where(
            rd.c.provider_id == provider_id, rd.c.order_id.in_(list(order_ids))
        )
        return self._db.execute(query.limit(1)).first() is not None

    def counts(self, window: Window, now: str) -> list[dict[str, Any]]:
        """Per provider: received, on time, late, open, open past deadline, breaches."""
        query = (
            select(
                rd.c.provider_id,
                func.count().label("received"),
                _count(
                    and_(ANSWERED, rd.c.due_at.is_not(None), rd.c.responded_at <= rd.c.due_at)
                ).label("on_time"),
                _count(and_(ANSWERED, rd.c.responded_at > rd.c.due_at)).label("late"),
                _count(OPEN).label("open"),
                _count(and_(OPEN, rd.c.due_at < now)).label("open_past_deadline"),
                _count(rd.c.breached_at.is_not(None)).label("breaches"),
                _count(rd.c.due_at.is_(None)).label("without_deadline"),
            )
            .where(*_in_window(window, rd.c.started_at))
            .group_by(rd.c.provider_id)
            .order_by(rd.c.provider_id)
        )
        return [dict(row._mapping) for row in self._db.execute(query)]

    def response_seconds(self, window: Window) -> dict[str, list[float]]:
        """Each provider's measured response times in the window, sorted."""
        query = select(rd.c.provider_id, rd.c.response_seconds).where(
            *_in_window(window, rd.c.started_at), ANSWERED
        )
        found: dict[str, list[float]] = defaultdict(list)
        for provider, seconds in self._db.execute(query):
            found[provider].append(float(seconds))
        return {provider: sorted(values) for provider, values in found.items()}

    def breaches(
        self, window: Window, state: str | None, offset: int, limit: int
    ) -> tuple[int, list[Any]]:
        """Breached deadlines, newest first; the window applies to when they were breached."""
        where = [rd.c.breached_at.is_not(None), *_in_window(window, rd.c.breached_at)]
        if state == "open":
            where.append(OPEN)
        elif state == "closed":
            where.append(~OPEN)
        total = self._db.execute(select(func.count()).select_from(rd).where(*where)).scalar_one()
        rows = self._db.execute(
            select(rd)
            .where(*where)
            .order_by(rd.c.breached_at.desc(), rd.c.order_id, rd.c.provider_id)
            .offset(offset)
            .limit(limit)
        ).all()
        return int(total), list(rows)

    def delivery_gauges(self) -> tuple[dict[str, int], int]:
        """Callbacks by state, and deliveries waiting to be sent (for /metrics)."""
        states: dict[str, int] = {
            str(state): int(count)
            for state, count in self._db.execute(
                select(subscriptions.c.state, func.count()).group_by(subscriptions.c.state)
            )
        }
        pending = self._db.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.state == PENDING)
        ).scalar_one()
        return states, int(pending)


def _in_window(window: Window, moment: ColumnElement[Any]) -> Sequence[ColumnElement[bool]]:
    """The provider, and ``moment`` (when deadlines started, or were breached) in range."""
    where: list[ColumnElement[bool]] = []
    if window.provider is not None:
        where.append(rd.c.provider_id == window.provider)
    if window.start is not None:
        where.append(moment >= window.start)
    if window.end is not None:
        where.append(moment < window.end)
    return where
