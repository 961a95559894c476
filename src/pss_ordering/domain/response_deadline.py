"""One provider's response deadline on one order (kept in the order's bookkeeping)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .timestamps import Instant, parse_instant


@dataclass(slots=True)
class Deadline:
    """One provider's deadline on one order; ``due_at`` None: no response time applies."""

    provider_id: str
    started_at: Instant
    response_time: str | None
    due_at: Instant | None
    responded_at: Instant | None = None
    breached_at: Instant | None = None
    closed_at: Instant | None = None

    @property
    def open(self) -> bool:
        """Neither answered nor moot (the order ended before the provider answered)."""
        return self.responded_at is None and self.closed_at is None

    @property
    def response_seconds(self) -> float | None:
        if self.responded_at is None:
            return None
        delta = parse_instant(self.responded_at) - parse_instant(self.started_at)
        return delta.total_seconds()

    def as_json(self) -> dict[str, Any]:
        return {
            "provider_id": self.provider_id,
            "started_at": self.started_at,
            "response_time": self.response_time,
            "due_at": self.due_at,
            "responded_at": self.responded_at,
            "breached_at": self.breached_at,
            "closed_at": self.closed_at,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Deadline:
        return cls(
            provider_id=str(raw["provider_id"]),
            started_at=Instant(raw["started_at"]),
            response_time=raw.get("response_time"),
            due_at=raw.get("due_at"),
            responded_at=raw.get("responded_at"),
            breached_at=raw.get("breached_at"),
            closed_at=raw.get("closed_at"),
        )
