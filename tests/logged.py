"""Capturing what the service logs, as it would reach an operator: through the service's
own handler (``logs.handler``: format, request id, redaction) at a chosen level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pss_ordering import logs
from pss_ordering.config import Settings


@dataclass
class Captured:
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every line as the JSON object it is (the JSON format)."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def access(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["logger"] == logs.ACCESS.name]


@contextmanager
def captured(
    settings: Settings,
    level: int = logging.INFO,
    log_format: str = "json",
    loggers: tuple[str, ...] = (),
) -> Iterator[Captured]:
    """The service's log lines while the block runs (every logger, ``level`` and above;
    ``loggers`` that set their own level, such as SQLAlchemy's, set to ``level`` too)."""
    stream = io.StringIO()
    handler = logs.handler(settings.model_copy(update={"log_format": log_format}), stream)
    root = logging.getLogger()
    changed = [logging.getLogger(name) for name in ("", *loggers)]
    previous = [logger.level for logger in changed]
    root.addHandler(handler)
    for logger in changed:
        logger.setLevel(level)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        for logger, was in zip(changed, previous, strict=True):
            logger.setLevel(was)
