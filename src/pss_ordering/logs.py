"""Logging: one set-up for every process, text for a person or JSON for a collector.

Every record carries the request id of the work that caused it
(:mod:`.correlation`); every line goes through :class:`Redacting`, which masks
the configured secrets and anything shaped like a credential, so that a secret
never reaches a log even when a library at DEBUG prints what it was given.

stdlib :mod:`logging` stays the API (uvicorn, SQLAlchemy, Alembic, aiohttp all
log through it); python-json-logger only formats.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Literal

import orjson
from pythonjsonlogger.json import JsonFormatter

from . import correlation
from .config import Settings

ACCESS = logging.getLogger("pss_ordering.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ("asctime", "levelname", "process", "name", "request_id", "message")
MASK = "[redacted]"
# Credentials whatever their source: a bearer/basic header value, a JWT, a Standard
# Webhooks signing secret, a PEM private key, a secret in a URL's user info.
_SHAPES = re.compile(
    r"(?i:(?<=bearer )|(?<=basic ))[A-Za-z0-9._~+/=\-]{16,}"
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"
    r"|whsec_[A-Za-z0-9+/=]+"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"
)
MIN_SECRET = 4  # shorter configured values would mask ordinary words


class _RequestId(logging.Filter):
    """Stamps each record with the request id of the work it belongs to ('-': none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = correlation.current_id() or "-"
        return True


class Redacting(logging.Formatter):
    """A formatter's output with every secret it knows of, and every credential's
    shape, masked: applied to the whole line, so arguments, exceptions and extra
    fields are covered alike."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        known = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        # A secret appears as itself, or escaped inside a JSON line.
        forms = {f for s in known for f in (s, orjson.dumps(s).decode()[1:-1])}
        self._known = re.compile("|".join(map(re.escape, forms))) if forms else None

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(self._inner.format(record))

    def scrub(self, line: str) -> str:
        if self._known is not None:
            line = self._known.sub(MASK, line)
        return _SHAPES.sub(MASK, line)


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold: the JWT secret and the outbound credentials."""
    found = [settings.jwt_secret or ""]
    for auth in settings.callback_auth.values():
        found += [auth.token or "", auth.password or "", auth.value or "", auth.client_secret or ""]
    return [value for value in found if value]


def chosen_format(settings: Settings) -> Literal["json", "text"]:
    """PSS_LOG_FORMAT, else text for a person at a terminal and JSON for a collector."""
    if settings.log_format is not None:
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def formatter(settings: Settings) -> logging.Formatter:
    if chosen_format(settings) == "json":
        inner: logging.Formatter = JsonFormatter(
            list(JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_serializer=lambda value, **_: orjson.dumps(value, default=str).decode(),
        )
    else:
        inner = logging.Formatter(TEXT_FORMAT)
    return Redacting(inner, configured_secrets(settings))


def handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing this service's lines (format, request id, redaction) to
    ``stream`` (stderr by default)."""
    found = logging.StreamHandler(stream)
    found.setFormatter(formatter(settings))
    found.addFilter(_RequestId())
    return found


def configure(settings: Settings) -> None:
    """Route every logger of this process to one :func:`handler` on stderr, replacing
    what was there (uvicorn's own set-up included)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(settings))
    root.setLevel(settings.log_level)
    # uvicorn's loggers log through the root: its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
