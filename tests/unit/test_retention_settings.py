"""Retention settings: ISO-8601 durations, and refused when they would remove what is needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pss_ordering.config import Settings
from pss_ordering.domain.retention import RetentionPolicy


def test_defaults_and_iso_8601_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert defaults.retention_events == timedelta(days=90)
    assert defaults.retention_delivery_attempts == timedelta(days=30)
    assert defaults.retention_received_events == timedelta(days=30)
    assert defaults.retention_response_deadlines == timedelta(days=400)
    assert defaults.retention_interval == timedelta(hours=1)
    monkeypatch.setenv("PSS_RETENTION_EVENTS", "P7D")
    monkeypatch.setenv("PSS_RETENTION_INTERVAL", "none")
    configured = Settings()
    assert configured.retention_events == timedelta(days=7)
    assert configured.retention_interval is None


def test_received_events_outlive_the_resend_schedule() -> None:
    """The idempotency window is at least the retry schedule: a sender retrying by it
    would otherwise have its resend applied as a new event."""
    with pytest.raises(ValidationError, match="retention_received_events"):
        Settings.model_validate(
            {"delivery_retry_schedule": [3600.0, 86_400.0], "retention_received_events": "PT1H"}
        )
    Settings.model_validate(
        {"delivery_retry_schedule": [3600.0], "retention_received_events": "PT1H"}
    )


def test_response_deadlines_outlive_the_metrics_window() -> None:
    with pytest.raises(ValidationError, match="metrics_window"):
        Settings.model_validate({"metrics_window": "P30D", "retention_response_deadlines": "P7D"})


@pytest.mark.parametrize(
    "field", ["retention_events", "retention_delivery_attempts", "retention_interval"]
)
@pytest.mark.parametrize("value", ["-P1D", "P200Y", "ninety days"])
def test_out_of_range_or_malformed_durations_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings.model_validate({field: value})


def test_cutoffs_count_back_from_now() -> None:
    policy = RetentionPolicy(
        events=timedelta(days=90),
        delivery_attempts=timedelta(days=30),
        received_events=timedelta(days=2),
        response_deadlines=timedelta(days=400),
    )
    cutoffs = policy.cutoffs(datetime(2026, 12, 2, tzinfo=UTC))
    assert cutoffs.events == "2026-09-03T00:00:00.000Z"
    assert cutoffs.received_events == "2026-11-30T00:00:00.000Z"
