"""ISO-8601 durations (``PT4H``, ``P2D``) as ``timedelta``; years and months are 365/30 days."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration; ValueError when it is not one."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"'{text}' is not an ISO-8601 duration such as PT4H")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(
        days=parts["y"] * 365 + parts["mo"] * 30 + parts["w"] * 7 + parts["d"],
        hours=parts["h"],
        minutes=parts["mi"],
        seconds=parts["s"],
    )


def is_duration(text: Any) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def tmf_duration(value: Mapping[str, Any]) -> timedelta | None:
    """A TMF ``Duration`` object (``{"amount": 2, "units": "days"}``), or None."""
    amount, units = value.get("amount"), str(value.get("units") or "").lower().rstrip("s")
    if not isinstance(amount, (int, float)) or units not in _UNITS:
        return None
    return timedelta(seconds=amount * _UNITS[units])


def format_duration(delta: timedelta) -> str:
    """The ISO-8601 form of a duration: ``P7D``, ``PT2H30M``, ``PT0.5S``."""
    total = delta.total_seconds()
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    date = f"{int(days)}D" if days else ""
    time = "".join(
        f"{value:g}{unit}"
        for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if value
    )
    return "P" + date + (f"T{time}" if time or not date else "")
