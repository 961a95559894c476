"""Which reads may run on the event loop: the rule bootstrap applies per database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from pss_ordering.bootstrap import inline_reads


@pytest.mark.parametrize(
    ("setting", "url", "inline"),
    [
        ("auto", "sqlite://", True),
        ("auto", "postgresql+psycopg://u@127.0.0.1:5432/db", True),
        ("auto", "postgresql+psycopg://u@localhost/db", True),
        ("auto", "postgresql+psycopg://u@/db?host=/var/run/postgresql", True),
        ("auto", "postgresql+psycopg://u@db.internal:5432/db", False),
        ("never", "sqlite://", False),
        ("always", "postgresql+psycopg://u@db.internal:5432/db", True),
    ],
)
def test_bounded_reads_run_inline_where_a_round_trip_is_cheap(
    setting: str, url: str, inline: bool
) -> None:
    """Across a network the event loop would sit idle for each round trip."""
    assert inline_reads(setting, create_engine(url)) is inline
