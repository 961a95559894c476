"""Plain-text tables for the operator commands (``sla``, ``callbacks``, ``prune``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.hub import CallbackHealth
from ..domain.retention import PruneReport
from ..response_time.figures import ProviderFigures


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header)] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def sla_table(figures: Sequence[ProviderFigures]) -> str:
    if not figures:
        return "no orders have been submitted to providers yet"
    return _table(
        (
            "provider",
            "received",
            "on time",
            "late",
            "open",
            "open past deadline",
            "breaches",
            "p50 s",
            "p95 s",
            "max s",
        ),
        [
            (
                f.provider_id,
                f.received,
                f.on_time,
                f.late,
                f.open,
                f.open_past_deadline,
                f.breaches,
                _seconds(f.p50),
                _seconds(f.p95),
                _seconds(f.max),
            )
            for f in figures
        ],
    )


def callbacks_table(found: Sequence[CallbackHealth]) -> str:
    if not found:
        return "no callbacks are registered"
    return _table(
        (
            "id",
            "owner",
            "topic",
            "state",
            "pending",
            "delivered",
            "failures",
            "next attempt",
            "last error",
            "callback",
        ),
        [
            (
                h.subscription.id,
                h.subscription.owner_id,
                h.subscription.topic,
                h.subscription.state,
                h.pending,
                h.delivered,
                h.failures,
                h.retry_at,
                h.last_error,
                h.subscription.callback,
            )
            for h in found
        ],
    )


def prune_table(report: PruneReport, remaining: dict[str, int]) -> str:
    """Rows removed (or that a run would remove) per table, and the rows left."""
    verb = "would delete" if report.dry_run else "deleted"
    return _table(
        ("table", verb, "rows now"),
        [(table, count, remaining.get(table)) for table, count in report.rows.items()],
    )
