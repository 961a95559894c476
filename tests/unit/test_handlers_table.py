"""Every bookkeeping event has a consequence: such an event is never published, so one
without a handler would be recorded and then lost."""

from __future__ import annotations

from pss_ordering.domain.events import Bookkeeping
from pss_ordering.service.handlers import HANDLERS


def test_every_bookkeeping_event_is_handled() -> None:
    unhandled = {kind.__name__ for kind in Bookkeeping.__subclasses__()} - {
        kind.__name__ for kind in HANDLERS
    }
    assert not unhandled
