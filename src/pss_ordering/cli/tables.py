"""Plain-text tables for the operator commands (``callbacks``, ``prune``; ``sla``'s is
``response_time/commands.py``'s, in the same form)."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.hub import CallbackHealth
from ..domain.retention import PruneReport


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header)] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def callbacks_table(found: Sequence[CallbackHealth]) -> str:
    if not found:
        return "no callbacks are registered"
    return table(
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
    return table(
        ("table", verb, "rows now"),
        [(table, count, remaining.get(table)) for table, count in report.rows.items()],
    )
