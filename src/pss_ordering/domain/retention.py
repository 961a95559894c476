"""What the retention policy keeps, and until when (pure rules; the SQL is in store/).

Each kind of record has its own retention, counted from its own moment:

* events (the order snapshot, the providers told, its deliveries and their attempts):
  from when the event occurred; an event a *live* callback (active, or halted and
  waiting to be resumed, PSI-01-02-03-07) has not received yet is kept however old;
* delivery attempts: from when they were made; the attempts of a delivery still
  pending are kept (they are what a halted callback's operator reads);
* received events (the idempotency record of a sender's eventId): from when they
  were received; the window is at least the retry schedule, the longest a sender
  retrying by the PSI schedule keeps resending one event;
* response deadlines (the response-time projection): from when they started, only
  once closed or answered; never younger than the figures' metrics window.

Callbacks (and their delivery health) and orders are never pruned: a callback goes
when its owner removes it, an order when governance deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .timestamps import format_instant

#: The tables the policy prunes, in the order a run visits them (the report's order).
TABLES = (
    "events",
    "event_providers",
    "deliveries",
    "delivery_attempts",
    "received_events",
    "response_deadlines",
)
#: Callback states whose undelivered events are kept: active, and halted (resumable).
LIVE_CALLBACK_STATES = ("active", "halted")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    events: timedelta
    delivery_attempts: timedelta
    received_events: timedelta
    response_deadlines: timedelta

    def cutoffs(self, now: datetime) -> Cutoffs:
        """Records from before these instants may go (subject to what is still needed)."""
        return Cutoffs(
            events=format_instant(now - self.events),
            delivery_attempts=format_instant(now - self.delivery_attempts),
            received_events=format_instant(now - self.received_events),
            response_deadlines=format_instant(now - self.response_deadlines),
        )


@dataclass(frozen=True, slots=True)
class Cutoffs:
    events: str
    delivery_attempts: str
    received_events: str
    response_deadlines: str


@dataclass(slots=True)
class PruneReport:
    """Rows removed (or, in a dry run, that would be) per table, and the transactions used."""

    dry_run: bool = False
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    batches: int = 0
    interrupted: bool = False

    def add(self, table: str, count: int) -> None:
        self.rows[table] += count

    @property
    def total(self) -> int:
        return sum(self.rows.values())
