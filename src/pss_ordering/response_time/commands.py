"""``pss-ordering sla``: each provider's response-time figures, as governance sees them.

The feature's own command; ``cli/main.py`` registers it with the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..cli.common import Instant, Wiring, existing_services
from ..cli.tables import table

if TYPE_CHECKING:
    from ..api.common import Services
    from .figures import ProviderFigures


@click.command()
@click.option("--provider", default=None, help="Only this provider (a party id).")
@click.option(
    "--from",
    "start",
    type=Instant(),
    default=None,
    help="Deadlines started at or after (ISO-8601).",
)
@click.option(
    "--to", "end", type=Instant(), default=None, help="Deadlines started before (ISO-8601)."
)
@click.pass_obj
def sla(wiring: Wiring, provider: str | None, start: str | None, end: str | None) -> None:
    """Print each provider's response-time figures (governance's view)."""
    from ..cli.seed import OPERATOR

    services = existing_services(wiring)
    figures = services.figures.figures(OPERATOR, provider, start, end)
    if provider is not None and not figures and not _is_party(services, provider):
        raise click.ClickException(f"provider '{provider}' is unknown: no party has that id")
    click.echo(sla_table(figures))


def _is_party(services: Services, party_id: str) -> bool:
    from ..cli.seed import OPERATOR
    from ..domain.errors import NotFound

    for kind in ("organization", "individual"):
        try:
            services.parties.get(OPERATOR, kind, party_id)
            return True
        except NotFound:
            continue
    return False


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def sla_table(figures: Sequence[ProviderFigures]) -> str:
    if not figures:
        return "no orders have been submitted to providers yet"
    return table(
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
