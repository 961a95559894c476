"""Configuration checks: what ``serve`` refuses to start with and ``check-config`` reports.

One list of findings over the settings, so the two commands cannot disagree: an
*error* stops ``serve`` (and makes ``check-config`` exit non-zero), a *warning*
is printed by both and changes nothing. Settings that cannot even be read
(a misspelt key, a non-number, a short secret) never get here: loading them
raises :class:`~pss_ordering.config.ConfigError` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import Settings, is_loopback, unknown_environment


@dataclass(frozen=True, slots=True)
class Finding:
    error: bool
    message: str

    def __str__(self) -> str:
        return f"{'error' if self.error else 'warning'}: {self.message}"


def findings(
    settings: Settings,
    environ: Iterable[str],
    *,
    host: str,
    processes: int,
    sqlite: bool,
    in_memory: bool,
) -> list[Finding]:
    """Everything weak or wrong about running ``serve`` on ``host`` with ``processes``."""
    found = [Finding(False, message) for message in unknown_environment(environ)]
    found.extend(_tokens(settings, host))
    found.extend(_database(settings, processes, sqlite, in_memory))
    if not settings.callback_allowed_hosts:
        found.append(
            Finding(
                False,
                "PSS_CALLBACK_ALLOWED_HOSTS is empty: every callback registration is "
                "refused (422); list the host:port entries callbacks may point at",
            )
        )
    if settings.base_url_derived and not is_loopback(host):
        found.append(
            Finding(
                False,
                f"PSS_BASE_URL is unset: hrefs and delivered events name {settings.base_url} "
                "(where serve listens); set it to the address clients use",
            )
        )
    return found


def _tokens(settings: Settings, host: str) -> list[Finding]:
    if settings.jwt_secret or settings.jwt_public_key or settings.jwt_jwks_url:
        return []
    if not is_loopback(host):
        return [
            Finding(
                True,
                f"no PSS_JWT_SECRET (nor PSS_JWT_PUBLIC_KEY or PSS_JWT_JWKS_URL) while "
                f"listening on {host}: every copy would generate its own development secret "
                "and refuse the others' tokens; set PSS_JWT_SECRET to at least 32 random "
                "bytes, the same on every node",
            )
        ]
    return [
        Finding(
            False,
            "development secret in use (.pss-ordering.secret, generated): set "
            "PSS_JWT_SECRET (or PSS_JWT_PUBLIC_KEY / PSS_JWT_JWKS_URL) in production",
        )
    ]


def _database(settings: Settings, processes: int, sqlite: bool, in_memory: bool) -> list[Finding]:
    if not sqlite:
        return []
    found = []
    if processes > 1 and in_memory:
        found.append(
            Finding(
                True,
                "an in-memory SQLite database lives in one process: "
                "serve it with --workers 1 (PSS_WORKERS)",
            )
        )
    elif processes > 1:
        found.append(
            Finding(
                False,
                f"SQLite with {processes} processes: reads scale with them, writes do not "
                "(one writer at a time; each process waits for the database lock)",
            )
        )
    if settings.sqlite_synchronous in ("OFF", "NORMAL"):
        found.append(
            Finding(
                False,
                f"PSS_SQLITE_SYNCHRONOUS={settings.sqlite_synchronous}: commits of the "
                "last moments before a power loss may be lost; FULL survives it",
            )
        )
    return found
