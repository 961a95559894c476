"""Identifiers the service makes up for what it stores: orders and events.

They are UUIDs of version 7 (RFC 9562): the first 48 bits are the time in
milliseconds, the other 74 are random. Rows written together then sit together
in every index keyed by their id (the orders' primary key, items, parties,
deadlines, timers, the events' ``event_id``): a batch of creates dirties a few
index pages instead of one random page per index per order, which is most of
what a commit writes (SQLite's WAL, PostgreSQL's WAL and checkpoints). 74
random bits leave an id as unguessable as it needs to be: an order's visibility
never rests on its id being secret (not visible reads like missing).
"""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A fresh UUIDv7 as text (``xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx``)."""
    value = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    value[6] = 0x70 | (value[6] & 0x0F)  # version 7
    value[8] = 0x80 | (value[8] & 0x3F)  # RFC 9562 variant
    return str(uuid.UUID(bytes=bytes(value)))
