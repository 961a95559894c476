"""Events received from other systems, by sender and eventId (applied once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .codec import dumps, loads
from .database import insert_if_absent
from .schema import received_events


class SqlReceivedEvents:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, sender_id: str, event_id: str) -> dict[str, Any] | None:
        """The answer given when this sender's event was applied, if it was."""
        row = self._db.execute(
            select(received_events.c.body).where(
                received_events.c.sender_id == sender_id, received_events.c.event_id == event_id
            )
        ).first()
        return None if row is None else loads(row.body)

    def add(self, sender_id: str, event_id: str, topic: str, at: str, body: dict[str, Any]) -> None:
        self._db.execute(
            insert(received_events).values(
                sender_id=sender_id,
                event_id=event_id,
                topic=topic,
                received_at=at,
                body=dumps(body),
            )
        )

    def claim(self, sender_id: str, event_id: str, topic: str, at: str) -> bool:
        """Record the event before applying it; False when it is already recorded.

        For an event that names no existing row to lock (a creation), the record is
        the lock: a concurrent resend (PostgreSQL) waits here for the first to commit
        and then learns it exists, instead of creating a second time. Its answer is
        written by :meth:`answer` in the same transaction.
        """
        return insert_if_absent(
            self._db,
            received_events,
            {
                "sender_id": sender_id,
                "event_id": event_id,
                "topic": topic,
                "received_at": at,
                "body": dumps({}),
            },
        )

    def answer(self, sender_id: str, event_id: str, body: dict[str, Any]) -> None:
        """The answer to give again to a resend of a claimed event."""
        self._db.execute(
            update(received_events)
            .where(received_events.c.sender_id == sender_id, received_events.c.event_id == event_id)
            .values(body=dumps(body))
        )
