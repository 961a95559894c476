"""The repositories of one connection, each built when a use case first asks for it.

A read by id touches one or two of them; building all nine for every unit of
work was most of what opening one cost. The unit of work inherits them, so use
cases still say ``uow.orders`` and ``uow.parties``.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Connection

from ..response_time.repository import SqlResponseTimes
from .deliveries import SqlDeliveries
from .events import SqlEvents
from .orders import SqlOrders
from .parties import SqlOfferings, SqlParties
from .received import SqlReceivedEvents
from .retention import SqlRetention
from .subscriptions import SqlSubscriptions
from .timers import SqlTimers


class Repositories:
    """Every repository, over the connection (and transaction) given."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @cached_property
    def orders(self) -> SqlOrders:
        return SqlOrders(self.connection)

    @cached_property
    def parties(self) -> SqlParties:
        return SqlParties(self.connection)

    @cached_property
    def offerings(self) -> SqlOfferings:
        return SqlOfferings(self.connection)

    @cached_property
    def timers(self) -> SqlTimers:
        return SqlTimers(self.connection)

    @cached_property
    def subscriptions(self) -> SqlSubscriptions:
        return SqlSubscriptions(self.connection)

    @cached_property
    def notifications(self) -> SqlEvents:
        """The event log: each notification once, with the order as it was."""
        return SqlEvents(self.connection)

    @cached_property
    def deliveries(self) -> SqlDeliveries:
        return SqlDeliveries(self.connection)

    @cached_property
    def received(self) -> SqlReceivedEvents:
        return SqlReceivedEvents(self.connection)

    @cached_property
    def response_times(self) -> SqlResponseTimes:
        return SqlResponseTimes(self.connection)

    @cached_property
    def retention(self) -> SqlRetention:
        return SqlRetention(self.connection)
