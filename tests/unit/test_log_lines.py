"""The log line's cheap paths mask exactly what the plain ones would.

Every request writes an access record, so ``logs.py`` renders JSON itself and runs
its redaction regexes only on lines that could hold a match (issue 10: the access
record had halved reads by id). These tests hold the fast paths to the slow ones:
the pre-test may let a line through to the regexes needlessly, never skip a secret.
"""

from __future__ import annotations

import json
import logging
import sys

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pss_ordering import logs
from pss_ordering.config import Settings

SECRET = "configured-secret-value-long-enough-42"
# Pieces of every credential shape and of the strings re's IGNORECASE equates with them
# (the dotless/dotted i and the long s), mixed with ordinary text.
PIECES = st.sampled_from(
    [
        "Bearer ",
        "bAsIc ",
        "ba\u017fic ",
        "bearer\u0131 ",
        "BEARER ",
        "Be\u0130rer ",
        "abcdefghijklmnopqrstuvwxyz0123",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZI",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "postgresql://",
        "user:pass",
        "@host/db",
        SECRET,
        json.dumps(SECRET)[1:-1],
        " ",
        "\n",
        '"',
        "GET /psi-api/productOrdering/v2/productOrder/{id} 200",
    ]
)


def _plain_scrub(formatter: logs.Redacting, line: str) -> str:
    """What ``scrub`` did before its pre-tests: both regexes over every line."""
    if formatter._known is not None:
        line = formatter._known.sub(logs.MASK, line)
    return logs._SHAPES.sub(logs.MASK, line)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=12).map("".join))
@example("Authorization: ba\u017fic abcdefghijklmnopqrstuvwxyz")
@example("token=Be\u0130rer abcdefghijklmnopqrstuvwxyz")
def test_the_pretested_scrub_masks_what_both_regexes_over_every_line_mask(line: str) -> None:
    formatter = logs.Redacting(logging.Formatter(), [SECRET])
    assert formatter.scrub(line) == _plain_scrub(formatter, line)


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "pss_ordering.access", logging.INFO, __file__, 1, "%s %d", ("GET", 200), None
    )
    record.__dict__.update(extra)
    return record


def test_a_json_line_holds_the_fixed_fields_then_the_extra_ones() -> None:
    record = _record(request_id="r-1", route="/x/{id}", status=200, party_id=None)
    line = json.loads(logs.JsonLines().format(record))
    assert list(line) == [
        "time",
        "level",
        "process",
        "logger",
        "request_id",
        "message",
        "route",
        "status",
        "party_id",
    ]
    assert line["message"] == "GET 200" and line["level"] == "INFO"
    assert line["logger"] == "pss_ordering.access" and line["request_id"] == "r-1"


def test_a_json_line_carries_the_traceback_and_renders_what_json_cannot_hold() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record(request_id="-", odd={1, 2})
    record.exc_info = exc_info
    line = json.loads(logs.JsonLines().format(record))
    assert "ValueError: boom" in line["exc_info"]
    assert line["odd"] == "{1, 2}"


def test_the_time_of_records_a_second_apart_is_each_their_own() -> None:
    formatter = logs.JsonLines()
    first, second = _record(), _record()
    second.created, second.msecs = first.created + 1.0, first.msecs
    stamps = {formatter.formatTime(first), formatter.formatTime(second)}
    assert len(stamps) == 2
    assert formatter.formatTime(first) == logging.Formatter().formatTime(first)


def test_every_format_the_settings_offer_goes_through_the_redaction() -> None:
    for chosen in ("json", "text"):
        formatter = logs.formatter(Settings(jwt_secret=SECRET, log_format=chosen))
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "saw %s", (SECRET,), None)
        record.request_id = "-"
        assert SECRET not in formatter.format(record)
