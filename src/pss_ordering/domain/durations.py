"""ISO-8601 durations (``PT4H``, ``P2D``) as ``timedelta``; years and months are 365/30 days.

Every duration a client or an operator supplies is added to an instant (a
deadline, a time-out), so it is bounded: at most :data:`MAX_DURATION` (100
years), which keeps ``now + duration`` representable. A longer one is refused
like a malformed one (``ValueError``), instead of overflowing when it is used.
"""

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
MAX_DURATION = timedelta(days=100 * 365)
MAX_DURATION_TEXT = "P100Y"


def bounded(seconds: float, shown: object) -> timedelta:
    """``seconds`` as a duration, if it is one this service can add to a date."""
    if not 0 <= seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"the duration {shown} is not between 0 and {MAX_DURATION_TEXT}")
    return timedelta(seconds=seconds)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration; ValueError when it is not one."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"'{text}' is not an ISO-8601 duration such as PT4H")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = parts["y"] * 365 + parts["mo"] * 30 + parts["w"] * 7 + parts["d"]
    seconds = days * 86400 + parts["h"] * 3600 + parts["mi"] * 60 + parts["s"]
    return bounded(seconds, f"'{text.strip()[:40]}'")


def is_duration(text: Any) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def tmf_duration(value: Mapping[str, Any]) -> timedelta | None:
    """A TMF ``Duration`` object (``{"amount": 2, "units": "days"}``), or None when it is
    not one; ValueError when it is negative or longer than :data:`MAX_DURATION`."""
    amount, units = value.get("amount"), str(value.get("units") or "").lower().rstrip("s")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or units not in _UNITS:
        return None
    return bounded(float(amount) * _UNITS[units], f"{amount} {units}s")


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
