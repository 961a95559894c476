"""One textual form for instants (domain/timestamps.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pss_ordering.domain.timestamps import format_instant, normalise_instant, parse_instant


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("2026-11-24T14:30:00Z", "2026-11-24T14:30:00.000Z"),
        ("2026-11-24T14:30:00z", "2026-11-24T14:30:00.000Z"),
        ("2026-11-24T16:30:00.123456+02:00", "2026-11-24T14:30:00.123Z"),
        ("2026-11-24T14:30:00", "2026-11-24T14:30:00.000Z"),
        (" 2026-11-24T09:30:00-05:00 ", "2026-11-24T14:30:00.000Z"),
    ],
)
def test_normalise_instant(raw: str, normal: str) -> None:
    assert normalise_instant(raw) == normal


@pytest.mark.parametrize("raw", ["", "tomorrow", "2026-13-01T00:00:00Z", "24/11/2026"])
def test_parse_instant_rejects_garbage(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(raw)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    shift=st.integers(-14 * 60, 14 * 60),
)
def test_normalised_text_sorts_like_the_instant(moment: datetime, shift: int) -> None:
    """Normalising is idempotent, offset-independent and millisecond-truncating."""
    local = moment.astimezone(timezone(timedelta(minutes=shift)))
    text = format_instant(moment)

    assert normalise_instant(local.isoformat()) == text
    assert normalise_instant(text) == text
    assert parse_instant(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_normalise_instant_pads_early_years() -> None:
    assert normalise_instant("0999-01-01T00:00:00Z") == "0999-01-01T00:00:00.000Z"
