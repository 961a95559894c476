"""Saving an order with what follows (service/handlers.py): a lost compare-and-set is an
error that undoes the unit of work, never a silently dropped change."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine

from pss_ordering.clock import ManualClock
from pss_ordering.domain import progress
from pss_ordering.domain.timestamps import Instant
from pss_ordering.service.handlers import ChangedConcurrently, Consequences
from pss_ordering.service.unit_of_work import Database
from tests.unit.factories import two_provider_order


def test_a_lost_compare_and_set_raises_and_the_change_is_not_written(
    engine: Engine, clock: ManualClock
) -> None:
    database, then = Database(engine), Consequences(clock)
    with database.writing() as uow:
        then.add(uow, two_provider_order())
        uow.commit()
    with database.writing() as uow:
        order = uow.orders.get("ord-1", lock=True)
        assert order is not None
        stale = dataclasses.replace(order, version=order.version - 1)  # read before a change
        progress.cancel(stale, "too late", Instant("2026-11-24T12:00:00.000Z"))
        with pytest.raises(ChangedConcurrently, match="ord-1"):
            then.save(uow, stale)
    with database.reading() as uow:
        kept = uow.orders.get("ord-1")
    assert kept is not None and kept.version == 1 and kept.state == "inProgress"
