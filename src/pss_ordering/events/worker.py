"""The delivery worker: every callback a lane, every lane strictly in order.

A *lane* sends one callback's pending deliveries oldest first, one at a time:
the next event goes out only after the previous one was accepted and that
was committed (PSI-01-02-03-08). So after a crash the only event that can
arrive twice is the one in flight, with the same ``webhook-id``. Different
callbacks are different lanes and never wait for each other.

One delivery, from claim to acknowledgement, reads top to bottom in three
methods: :meth:`DeliveryWorker._run_lane` (a claimed callback until its lane
ends, then its lease let go of), :meth:`DeliveryWorker._deliver_lane` (its
deliveries in order) and :meth:`DeliveryWorker._deliver` (one of them: rendered,
sent, judged by the retry policy, recorded).

A worker runs a lane only while it holds the callback's lease (see
``store/deliveries.py``), renewed while it works; several workers, in one
process or many, share the callbacks without sending to one twice at once.
Acknowledgements from all lanes are committed together (group commit). A lane
that runs out of work lingers a few seconds, holding its lease, and is woken
when new deliveries for its callback commit (the worker follows the newest
delivery id), so a steady trickle of events does not pay a claim and a
release per event.

Tests call :meth:`DeliveryWorker.drain` to deliver what is due, with their own
clock and sender; ``serve`` and ``pss-ordering worker`` call :meth:`run`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

import orjson

from .. import correlation, tracing
from ..clock import Clock
from ..domain.delivery import (
    Attempt,
    Lane,
    Next,
    PendingDelivery,
    RetryPolicy,
    SendResult,
    Step,
)
from ..service.execution import Executor
from ..service.publishing import Publisher
from ..service.unit_of_work import Database
from ..store.deliveries import PENDING_BATCH
from ..tmf4 import events as tmf4_events
from .acks import GroupCommit
from .lane_store import LaneStore
from .relay import PartnerRelay
from .sender import Outgoing, Sender

log = logging.getLogger(__name__)
RENDERED_CACHE = 20_000
COALESCE_SECONDS = 0.005
CLAIM_AT_ONCE = 16
#: A relayed event the partner has nothing to learn from is settled without a request.
NOTHING_TO_SEND = SendResult(204)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How a worker delivers: the retry policy, its leases and its pace."""

    retry: RetryPolicy
    lease_seconds: float
    timeout_seconds: float
    max_lanes: int = 256
    idle_poll_seconds: float = 1.0
    linger_seconds: float = 2.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    @property
    def send_margin(self) -> timedelta:
        """Room for one whole send: leases are renewed every third of their length and
        last at least three timeouts, so at least two timeouts remain between renewals."""
        return timedelta(seconds=self.timeout_seconds * 1.5)

    @property
    def linger(self) -> float:
        """How long a lane out of work waits for more: well within its lease."""
        return min(self.linger_seconds, self.lease_seconds / 3)


class LaneEnd(Enum):
    """Why a lane stopped, which says whether its lease is still to be let go of."""

    DRAINED = "nothing more to send"
    LEASE_SHORT = "its lease would not outlast another send"
    #: The failed attempt's record let go of the lease, with the retry's time.
    FAILED = "a delivery failed"
    #: The lease is kept until it expires: a lane that keeps failing is retried once
    #: per lease period (by this or another worker), not in a hot loop.
    BROKEN = "the lane raised"

    @property
    def lets_go(self) -> bool:
        return self in (LaneEnd.DRAINED, LaneEnd.LEASE_SHORT)


class Woken(Enum):
    """Why the worker's loop woke up."""

    STOP = "stop"
    CLAIM = "a lane ended, or a claim took all it asked for"
    COMMIT = "deliveries may have been committed"
    TIME = "time passed: retries may be due"


class DeliveryWorker:
    """Sends the callbacks' deliveries: its collaborators (the database and where its
    work runs, the sender, the clock, a partner relay) and one settings object."""

    def __init__(
        self,
        database: Database,
        executor: Executor,
        sender: Sender,
        clock: Clock,
        settings: DeliverySettings,
        *,
        relay: PartnerRelay | None = None,
    ) -> None:
        self.name = worker_name()
        self._db = database
        self._executor = executor
        self._sender = sender
        self._clock = clock
        self._settings = settings
        self._relay = relay
        self._store = LaneStore(database, clock, self.name, settings.lease)
        self._acks = GroupCommit(executor, self._store.record)
        self._leases = _Leases(executor, self._store, clock, settings)
        self._bodies = _Bodies(database.publisher, relay)
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._lingering: dict[str, _Lingering] = {}
        self._seen = 0  # the newest delivery id looked at
        self._committed = asyncio.Event()
        self._claim_wanted = asyncio.Event()
        self._next_retry: datetime | None = None

    # -- the loop ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let go of every lease."""
        wakeups = self._db.backend.wakeups()
        helpers = [
            asyncio.create_task(self._leases.keep_renewed()),
            asyncio.create_task(wakeups.run(self._committed.set)),
        ]
        try:
            self._seen = await self._executor.read(self._store.newest)
            claim = True  # the first round looks for work
            while not stop.is_set():
                self._committed.clear()
                self._claim_wanted.clear()
                try:
                    wait = await self._round(claim)
                    failed = False
                except Exception:
                    log.exception("delivery worker: claiming failed; retrying")
                    wait, failed = self._settings.idle_poll_seconds, True
                woken = await self._sleep(stop, wait)
                claim = failed or woken is not Woken.COMMIT
        finally:
            for task in [*helpers, *self._lanes.values()]:
                task.cancel()
            await asyncio.gather(*helpers, *self._lanes.values(), return_exceptions=True)
            await self._leases.release_all()
            await self.close()

    async def drain(self) -> None:
        """Deliver everything that is due now, then return (tests, and the CLI)."""
        self._settings = replace(self._settings, linger_seconds=0.0)
        while await self._claim_lanes():
            await asyncio.gather(*self._lanes.values(), return_exceptions=True)

    async def close(self) -> None:
        """Close the sender's connections (they belong to the running event loop)."""
        await self._sender.close()

    async def _round(self, claim: bool) -> float:
        """One look at the database: new deliveries handed to the lanes lingering for
        them; idle callbacks claimed when asked to, or when one got deliveries; returns
        how long to sleep if nothing wakes the worker."""
        if await self._hand_new_deliveries() or claim:
            await self._claim_lanes()
            # Only after a claim (a lane ended, time passed), not after every commit.
            self._next_retry = await self._executor.read(self._store.next_retry)
        if len(self._lanes) >= self._settings.max_lanes or self._next_retry is None:
            return self._settings.idle_poll_seconds
        left = (self._next_retry - self._clock.now()).total_seconds()
        return min(self._settings.idle_poll_seconds, max(left, 0.005))

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> Woken:
        """Until stopped, asked to claim, told of a commit, or ``seconds`` pass."""
        waiters = [
            asyncio.create_task(event.wait())
            for event in (stop, self._claim_wanted, self._committed)
        ]
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not done:
            return Woken.TIME
        if not stop.is_set():
            await asyncio.sleep(COALESCE_SECONDS)  # a burst of commits, one round
        if stop.is_set():
            return Woken.STOP
        return Woken.CLAIM if self._claim_wanted.is_set() else Woken.COMMIT

    async def _claim_lanes(self) -> int:
        """Claim idle callbacks with something due and start their lanes."""
        free = min(self._settings.max_lanes - len(self._lanes), CLAIM_AT_ONCE)
        if free <= 0 or not await self._executor.read(self._store.any_claimable):
            return 0  # the cheap read first: claiming takes the write lock
        lanes, until = await self._executor.write(self._store.claim, free)
        self._leases.hold([lane.subscription_id for lane in lanes], until)
        for lane in lanes:
            self._lanes[lane.subscription_id] = asyncio.create_task(self._run_lane(lane))
        if len(lanes) == free:
            self._claim_wanted.set()  # a few at a time, so that other workers claim their share
        return len(lanes)

    async def _hand_new_deliveries(self) -> bool:
        """Hand the lingering lanes whose callbacks got deliveries since we last looked
        their next deliveries (one read for all of them); returns whether some callback
        without a lane here got any (then it is worth claiming)."""
        callbacks, self._seen = await self._executor.read(self._store.new_since, self._seen)
        lingering = sorted(sid for sid in callbacks if sid in self._lingering)
        if lingering:
            found = await self._executor.read(self._store.pending, *lingering)
            for sid in lingering:
                lane = self._lingering.get(sid)
                if lane is not None:  # still lingering
                    lane.hand(found.get(sid, []))
        return any(sid not in self._lanes for sid in callbacks)

    # -- a lane: claim to acknowledgement ------------------------------------------

    async def _run_lane(self, lane: Lane) -> None:
        """A claimed callback until its lane ends; then its lease let go of, if still ours
        and the way it ended leaves that to us."""
        sid = lane.subscription_id
        try:
            end = await self._deliver_lane(lane)
        except asyncio.CancelledError:
            self._lanes.pop(sid, None)
            raise  # at shutdown, run() lets go of every lease still held
        except Exception:
            log.exception("delivery worker: lane %s failed; retried when its lease expires", sid)
            end = LaneEnd.BROKEN
        self._lanes.pop(sid, None)
        if self._leases.drop(sid) and end.lets_go:
            await self._leases.release([sid])
        self._claim_wanted.set()  # its callback may need a lane again, or wait for a retry

    async def _deliver_lane(self, lane: Lane) -> LaneEnd:
        """The lane's deliveries, oldest first, each one's outcome committed before the
        next is sent; the lane ends at the first that is not delivered."""
        sid = lane.subscription_id
        failures = lane.failures  # the head event's, so its retries go on where they were
        partner = await self._partner_of(lane)  # once per lane: is it a partner's intake?
        pending, sent_upto = await self._pending(sid), 0
        while True:
            for delivery in pending:
                if not self._leases.may_send(sid):
                    return LaneEnd.LEASE_SHORT
                if await self._deliver(lane, delivery, failures, partner) is not Next.DELIVERED:
                    return LaneEnd.FAILED
                failures, sent_upto = 0, delivery.id
            pending = await self._next_batch(sid, pending, sent_upto)
            if not pending:
                return LaneEnd.DRAINED

    async def _deliver(
        self, lane: Lane, delivery: PendingDelivery, failures: int, partner: str | None
    ) -> Next:
        """One delivery: rendered, sent, judged (delivered, retry at a time, halt,
        disable) and recorded; returns once the record is committed."""
        sid, event_id = lane.subscription_id, delivery.event.event_id
        # Under the id of the request that caused the event: its logs and span.
        with (
            correlation.bound(delivery.event.correlation_id),
            tracing.span("delivery", callback=sid, event=event_id),
        ):
            target = self._bodies.target(lane.callback, delivery, partner)
            if target is None:
                result = NOTHING_TO_SEND
            else:
                url, body = target
                result = await self._sender.send(Outgoing(url, event_id, lane.secret, body))
            result, step = await self._judge(delivery, partner, result, failures)
            await self._acks.commit(Attempt.of(delivery, lane, result, step, self._clock.now()))
            if step.next is Next.DELIVERED:
                log.debug("delivered event %s to callback %s", event_id, sid)
            else:
                # Said where the operator looks (the worker's log), not only in the
                # callback's health: a refusal by the allow-list or the networks is a
                # setting of this process (PSS_CALLBACK_ALLOWED_*), not the receiver's fault.
                log.warning(
                    "delivery of event %s to callback %s failed (%s): %s",
                    event_id,
                    sid,
                    result.describe(),
                    step.next.value,
                )
        return step.next

    async def _judge(
        self, delivery: PendingDelivery, partner: str | None, result: SendResult, failures: int
    ) -> tuple[SendResult, Step]:
        """What the answer means. A partner that refuses a forwarded order settles the
        delivery (its items were rejected, with the partner's reason); otherwise the
        retry policy decides, from the head event's failures before this one."""
        if partner is not None and await self._partner_refused(delivery, partner, result):
            settled = SendResult(result.status, None, None, result.duration_ms)
            return settled, Step(Next.DELIVERED, 0)
        return result, self._settings.retry.after(result, failures, random.random)

    async def _pending(self, subscription_id: str) -> list[PendingDelivery]:
        found = await self._executor.read(self._store.pending, subscription_id)
        return found.get(subscription_id, [])

    async def _next_batch(
        self, subscription_id: str, sent: list[PendingDelivery], sent_upto: int
    ) -> list[PendingDelivery]:
        """What the lane sends next: what waits behind a full batch, else what commits
        while it lingers (nothing: it ends)."""
        if len(sent) == PENDING_BATCH:
            more = await self._pending(subscription_id)
            if more:
                return more
        seconds = self._settings.linger
        if seconds <= 0:
            return []
        lingering = self._lingering[subscription_id] = _Lingering(sent_upto)
        try:
            return await lingering.handed(seconds)
        finally:
            self._lingering.pop(subscription_id, None)

    async def _partner_of(self, lane: Lane) -> str | None:
        if self._relay is None:
            return None
        return await self._executor.read(self._relay.partner_of, lane)

    async def _partner_refused(
        self, delivery: PendingDelivery, partner: str, result: SendResult
    ) -> bool:
        assert self._relay is not None
        if result.ok or result.status is None:
            return False
        return await self._executor.write(self._relay.refused, delivery, partner, result)


class _Leases:
    """The callbacks' leases this worker holds, and until when; renewed every third of
    their length while held, let go of when the lane ends."""

    def __init__(
        self, executor: Executor, store: LaneStore, clock: Clock, settings: DeliverySettings
    ) -> None:
        self._executor = executor
        self._store = store
        self._clock = clock
        self._lease = settings.lease
        self._margin = settings.send_margin
        self._until: dict[str, datetime] = {}

    def hold(self, subscription_ids: list[str], until: datetime) -> None:
        for sid in subscription_ids:
            self._until[sid] = until

    def may_send(self, subscription_id: str) -> bool:
        """Only while the lease outlasts a whole send: otherwise another worker may take over."""
        until = self._until.get(subscription_id)
        return until is not None and self._clock.now() + self._margin < until

    def drop(self, subscription_id: str) -> bool:
        """Stop renewing the lease; returns whether it was still held."""
        return self._until.pop(subscription_id, None) is not None

    async def keep_renewed(self) -> None:
        every = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if not self._until:
                continue
            # Only the leases held when asking: one claimed meanwhile is not judged by
            # this answer, and one given up on (dropped) is left to expire.
            asked = list(self._until)
            try:
                until = self._clock.now() + self._lease
                held = await self._executor.write(self._store.renew, until, asked)
            except Exception:
                log.exception("delivery worker: renewing leases failed")
                continue
            for sid in asked:
                if sid not in held:
                    self._until.pop(sid, None)
                elif sid in self._until:
                    self._until[sid] = until

    async def release(self, subscription_ids: list[str]) -> None:
        try:
            await self._executor.write(self._store.release, subscription_ids)
        except Exception:
            log.exception("delivery worker: releasing %s failed; they expire", subscription_ids)

    async def release_all(self) -> None:
        if self._until:
            await self.release(list(self._until))
            self._until.clear()


class _Bodies:
    """Where each delivery goes (a v4 one: a listener path under the callback) and what
    it carries, rendered once per event and audience; a partner's intake gets the
    relayed event."""

    def __init__(self, publisher: Publisher, relay: PartnerRelay | None) -> None:
        self._publisher = publisher
        self._relay = relay
        # By (event, audience), or (event, "audience>partner") for a partner's intake.
        self._rendered: OrderedDict[tuple[int, str], tuple[str, bytes]] = OrderedDict()

    def target(
        self, callback: str, delivery: PendingDelivery, partner: str | None
    ) -> tuple[str, bytes] | None:
        """The URL and the body; None: nothing to tell a partner."""
        audience = delivery.audience
        key = (delivery.event_seq, audience if partner is None else f"{audience}>{partner}")
        cached = self._rendered.get(key)
        if cached is None:
            cached = self._rendered[key] = self._render(delivery, partner)
            if len(self._rendered) > RENDERED_CACHE:
                self._rendered.popitem(last=False)
        path, body = cached
        return (tmf4_events.target(callback, path), body) if body else None

    def _render(self, delivery: PendingDelivery, partner: str | None) -> tuple[str, bytes]:
        if partner is None:
            envelope = self._publisher.render(delivery.event, delivery.audience)
            return tmf4_events.listener_path(delivery.audience, envelope), orjson.dumps(envelope)
        assert self._relay is not None
        relayed = self._relay.body(delivery, partner)
        return "", b"" if relayed is None else orjson.dumps(relayed)


class _Lingering:
    """A lane that ran out of work, waiting to be handed its callback's next deliveries."""

    def __init__(self, sent_upto: int) -> None:
        self._sent_upto = sent_upto
        self._deliveries: list[PendingDelivery] = []
        self._handed = asyncio.Event()

    def hand(self, deliveries: list[PendingDelivery]) -> None:
        # Read while the lane waited, so all unsent; the id check guards anyway.
        self._deliveries = [d for d in deliveries if d.id > self._sent_upto]
        if self._deliveries:
            self._handed.set()

    async def handed(self, seconds: float) -> list[PendingDelivery]:
        """The deliveries handed within ``seconds``; none if nothing came."""
        try:
            await asyncio.wait_for(self._handed.wait(), seconds)
        except TimeoutError:
            return []
        return self._deliveries
