"""What the commands share: where they get their services (the seam tests use), the
date-time option type, and saying which database a command works on.

Kept apart from ``main.py`` so that a feature's own commands (``response_time``'s
``sla``) use them without importing the group that registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ..config import Settings, load_settings
from ..domain.timestamps import InstantOutOfRange, normalise_instant

if TYPE_CHECKING:
    from ..api.common import Services


def _root_services(settings: Settings) -> Services:
    """The composition root's services (imported when a command first needs them: the
    root imports the whole service, which ``--help`` and ``token`` do without)."""
    from ..bootstrap import build_services

    return build_services(settings)


@dataclass(frozen=True, slots=True)
class Wiring:
    """Where the commands get their services: the composition root, or what a test gives."""

    services: Callable[[Settings], Services] = _root_services


class Instant(click.ParamType[str]):
    """An ISO-8601 date-time option, refused as a usage error when it is not one."""

    name = "date-time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return normalise_instant(str(value))
        except InstantOutOfRange as exc:
            self.fail(str(exc), param, ctx)
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO-8601 date-time such as 2026-01-01T00:00:00Z", param, ctx
            )


def using(settings: Settings, *, tokens: bool = False) -> None:
    """Say on stderr which database (and secret) a command uses, so that one run from
    another directory cannot answer from somewhere else unnoticed."""
    from ..bootstrap import describe_database
    from ..signing_secret import secret_source

    click.echo(f"database {describe_database(settings)}", err=True)
    if tokens:
        click.echo(f"tokens signed with {secret_source(settings)}", err=True)


def existing_services(wiring: Wiring) -> Services:
    """Services over the database a server wrote (refused when it is not there)."""
    from ..bootstrap import existing_database

    settings = existing_database(load_settings())
    using(settings)
    return wiring.services(settings)
