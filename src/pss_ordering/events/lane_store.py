"""The delivery worker's database work, run by the executor (inline or on threads).

Each method is one short unit of work. Events are read once per worker and kept
(several callbacks get the same event), behind a lock: on PostgreSQL reads run
on executor threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from ..clock import Clock
from ..domain.delivery import Attempt, Lane, PendingDelivery
from ..domain.notifications import StoredEvent
from ..domain.timestamps import format_instant, parse_instant
from ..service.unit_of_work import Database

EVENT_CACHE = 5_000


class LaneStore:
    def __init__(self, database: Database, clock: Clock, worker: str, lease: timedelta) -> None:
        self._db = database
        self._clock = clock
        self._worker = worker
        self._lease = lease
        self._events: OrderedDict[int, StoredEvent] = OrderedDict()
        self._events_lock = threading.Lock()

    def any_claimable(self) -> bool:
        with self._db.reading() as uow:
            return uow.deliveries.any_claimable(format_instant(self._clock.now()))

    def claim(self, limit: int) -> tuple[list[Lane], datetime]:
        now = self._clock.now()
        until = now + self._lease
        with self._db.writing() as uow:
            lanes = uow.deliveries.claim(
                self._worker, format_instant(now), format_instant(until), limit
            )
            uow.commit()
        return lanes, until

    def pending(self, *subscription_ids: str) -> dict[str, list[PendingDelivery]]:
        """These callbacks' next deliveries, oldest first, with their events (each event
        read once per worker, then kept)."""
        with self._db.reading() as uow:
            rows = uow.deliveries.pending(subscription_ids)
            with self._events_lock:
                missing = {seq for _, _, seq, _ in rows if seq not in self._events}
            found = uow.events.get_many(missing) if missing else {}
        with self._events_lock:
            for seq, event in found.items():
                self._events[seq] = event
            known = {seq: self._events.get(seq) or found[seq] for _, _, seq, _ in rows}
            while len(self._events) > EVENT_CACHE:
                self._events.popitem(last=False)
        by_callback: dict[str, list[PendingDelivery]] = {}
        for d_id, sid, seq, audience in rows:
            by_callback.setdefault(sid, []).append(PendingDelivery(d_id, seq, audience, known[seq]))
        return by_callback

    def record(self, attempts: list[Attempt]) -> None:
        with self._db.writing() as uow:
            uow.deliveries.record(self._worker, attempts)
            uow.commit()

    def release(self, subscription_ids: list[str]) -> None:
        with self._db.writing() as uow:
            uow.deliveries.release(self._worker, subscription_ids)
            uow.commit()

    def renew(self, until: datetime, subscription_ids: list[str]) -> set[str]:
        with self._db.writing() as uow:
            held = uow.deliveries.renew(self._worker, format_instant(until), subscription_ids)
            uow.commit()
        return held

    def newest(self) -> int:
        with self._db.reading() as uow:
            return uow.deliveries.newest_id()

    def new_since(self, seen: int) -> tuple[set[str], int]:
        with self._db.reading() as uow:
            return uow.deliveries.new_since(seen)

    def next_retry(self) -> datetime | None:
        with self._db.reading() as uow:
            due = uow.deliveries.next_retry_at(format_instant(self._clock.now()))
        return None if due is None else parse_instant(due)
