"""Logging: one set-up for every process, text for a person or JSON for a collector.

Every record carries the request id of the work that caused it
(:mod:`.correlation`); every line goes through :class:`Redacting`, which masks
the configured secrets and anything shaped like a credential, so that a secret
never reaches a log even when a library at DEBUG prints what it was given.

stdlib :mod:`logging` stays the API (uvicorn, SQLAlchemy, Alembic, aiohttp all
log through it). Every request writes an access record, so a record's cost is paid
per request: the JSON formatter is this module's own (python-json-logger cost
~30 µs a record), the redaction regexes run only on lines that could hold what
they mask, and records do not look up their caller's source line, which no
format here prints.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import IO, Any, Literal

import orjson

from . import correlation
from .config import Settings

ACCESS = logging.getLogger("pss_ordering.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s [%(request_id)s] %(message)s"
# A LogRecord's own attributes: whatever else it holds came as ``extra=`` and is rendered.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "taskName"}
)
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
# What every match of _SHAPES holds is tested with ``in`` (a few hundred ns) before the
# regex runs (tens of µs on a long line, paid by every access record otherwise):
# see _may_hold_a_shape.
# Characters that re's IGNORECASE also matches to a letter of "bearer"/"basic" but that
# str.lower() keeps: folded first, so the pre-test is never narrower than the regex.
_IGNORECASE_TWINS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


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
        self._forms = tuple(forms)
        self._known = re.compile("|".join(map(re.escape, forms))) if forms else None

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(self._inner.format(record))

    def scrub(self, line: str) -> str:
        """``line`` with every secret masked. Each regex runs only on a line holding what
        any of its matches must hold (most lines, every access record, hold nothing)."""
        if self._known is not None:
            for form in self._forms:
                if form in line:
                    line = self._known.sub(MASK, line)
                    break
        if _may_hold_a_shape(line):
            line = _SHAPES.sub(MASK, line)
        return line


def _may_hold_a_shape(line: str) -> bool:
    """False only when no match of ``_SHAPES`` can be in ``line`` (plain ``in`` tests: a
    generator expression here would cost more than all of them)."""
    if "eyJ" in line or "whsec_" in line or "PRIVATE KEY-----" in line:
        return True
    if "://" in line and "@" in line:
        return True
    folded = (line if line.isascii() else line.translate(_IGNORECASE_TWINS)).lower()
    return "bearer " in folded or "basic " in folded


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold: the JWT secret and the outbound credentials."""
    found = [settings.jwt_secret or ""]
    for auth in settings.callback_auth.values():
        found += [auth.token or "", auth.password or "", auth.value or "", auth.client_secret or ""]
    return [value for value in found if value]


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, process, logger, request_id, message, then
    the record's ``extra`` fields, then a traceback when there is one."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``2026-12-02 11:56:42,665`` (local time, as logging's default); the part to the
        second is formatted once a second, not once a record."""
        second, stamp = self._second
        if int(record.created) != second:
            second = int(record.created)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
            self._second = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "process": record.process,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                fields[key] = value
        if record.exc_info:
            fields["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(fields, default=str).decode()


def chosen_format(settings: Settings) -> Literal["json", "text"]:
    """PSS_LOG_FORMAT, else text for a person at a terminal and JSON for a collector."""
    if settings.log_format is not None:
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def formatter(settings: Settings) -> logging.Formatter:
    if chosen_format(settings) == "json":
        inner: logging.Formatter = JsonLines()
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
    # No format here prints the caller's file, line, thread or multiprocessing name:
    # not collecting them saves a stack walk per record (logging's documented switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    # uvicorn's loggers log through the root: its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
