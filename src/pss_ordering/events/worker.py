"""The delivery worker: every callback a lane, every lane strictly in order.

A *lane* sends one callback's pending deliveries oldest first, one at a time:
the next event goes out only after the previous one was accepted and that
was committed (PSI-01-02-03-08). So after a crash the only event that can
arrive twice is the one in flight, with the same ``webhook-id``. Different
callbacks are different lanes and never wait for each other.

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
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson

from .. import correlation, tracing
from ..clock import Clock
from ..domain.delivery import Next, RetryPolicy, SendResult, Step
from ..domain.timestamps import format_instant
from ..service.execution import Executor
from ..service.unit_of_work import Database
from ..store.deliveries import PENDING_BATCH, Attempt, Lane, PendingDelivery
from ..tmf4 import events as tmf4_events
from .acks import GroupCommit
from .lane_store import LaneStore
from .relay import PartnerRelay
from .sender import Outgoing, Sender
from .wakeup import Wakeup

log = logging.getLogger(__name__)
RENDERED_CACHE = 20_000
COALESCE_SECONDS = 0.005
CLAIM_AT_ONCE = 16
#: A relayed event the partner has nothing to learn from is settled without a request.
NOTHING_TO_SEND = SendResult(204)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    def __init__(
        self,
        database: Database,
        executor: Executor,
        sender: Sender,
        clock: Clock,
        policy: RetryPolicy,
        *,
        lease_seconds: float,
        timeout_seconds: float,
        max_lanes: int = 256,
        idle_poll_seconds: float = 1.0,
        linger_seconds: float = 2.0,
        wakeup: Wakeup | None = None,
        rand: Callable[[], float] = random.random,
        name: str | None = None,
        relay: PartnerRelay | None = None,
    ) -> None:
        self.name = name or worker_name()
        self._db = database
        self._executor = executor
        self._sender = sender
        self._clock = clock
        self._policy = policy
        self._lease = timedelta(seconds=lease_seconds)
        # Room for one whole send: leases are renewed every third of their length and
        # last at least three timeouts, so at least two timeouts remain between renewals.
        self._send_margin = timedelta(seconds=timeout_seconds * 1.5)
        self._max_lanes = max_lanes
        self._idle_poll = idle_poll_seconds
        self._wakeup = wakeup
        self._rand = rand
        self._linger = min(linger_seconds, lease_seconds / 3)
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, _Waiting] = {}
        self._seen = 0
        self._leases: dict[str, datetime] = {}
        # Bodies by (event, audience), or (event, "audience>partner") for a partner's
        # intake, with the path under the callback they go to (a v4 listener's).
        self._rendered: OrderedDict[tuple[int, str], tuple[str, bytes]] = OrderedDict()
        self._store = LaneStore(database, clock, self.name, self._lease)
        self._acks = GroupCommit(executor, self._store.record)
        self._wake = asyncio.Event()
        self._look_around = True
        self._rounds_looked = 0
        self._retry_known_at = -1
        self._next_due: datetime | None = None
        self._relay = relay

    # -- the loop ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let go of every lease."""
        helpers = [asyncio.create_task(self._renew_leases())]
        if self._wakeup is not None:
            helpers.append(asyncio.create_task(self._wakeup.run(self._wake.set)))
        try:
            self._seen = await self._executor.read(self._store.newest)
            while not stop.is_set():
                self._wake.clear()
                try:
                    unclaimed = await self._poke_lanes()
                    if self._look_around or unclaimed:
                        await self._fill()
                    wait = await self._idle_seconds()
                except Exception:
                    log.exception("delivery worker: claiming failed; retrying")
                    self._look_around, wait = True, self._idle_poll
                if await _first(stop, self._wake, wait):
                    await asyncio.sleep(COALESCE_SECONDS)  # a burst of commits, one round
                else:
                    self._look_around = True  # time passed: retries may be due
        finally:
            for task in [*helpers, *self._lanes.values()]:
                task.cancel()
            await asyncio.gather(*helpers, *self._lanes.values(), return_exceptions=True)
            await self._release_all()
            await self.close()

    async def drain(self) -> None:
        """Deliver everything that is due now, then return (tests, and the CLI)."""
        self._linger = 0.0
        while await self._fill():
            await asyncio.gather(*self._lanes.values(), return_exceptions=True)

    async def close(self) -> None:
        """Close the sender's connections (they belong to the running event loop)."""
        await self._sender.close()

    async def _fill(self) -> int:
        """Claim idle callbacks with something due and start their lanes."""
        self._look_around = False
        self._rounds_looked += 1
        free = min(self._max_lanes - len(self._lanes), CLAIM_AT_ONCE)
        if free <= 0 or not await self._executor.read(self._store.any_claimable):
            return 0  # the cheap read first: claiming takes the write lock
        lanes, until = await self._executor.write(self._store.claim, free)
        for lane in lanes:
            self._leases[lane.subscription_id] = until
            self._lanes[lane.subscription_id] = asyncio.create_task(self._run_lane(lane))
        if len(lanes) == free:
            # A few at a time, so that other workers claim their share; come back soon.
            self._look_around = True
            self._wake.set()
        return len(lanes)

    async def _poke_lanes(self) -> bool:
        """Hand the lingering lanes whose callbacks got deliveries since we last looked
        their next deliveries (one read for all of them); returns whether some callback
        without a lane here got any (then it is worth claiming)."""
        callbacks, self._seen = await self._executor.read(self._store.new_since, self._seen)
        waiting = sorted(sid for sid in callbacks if sid in self._waiting)
        if waiting:
            found = await self._executor.read(self._store.pending, *waiting)
            for sid in waiting:
                lane = self._waiting.get(sid)
                if lane is not None:  # still lingering
                    lane.hand(found.get(sid, []))
        return any(sid not in self._lanes for sid in callbacks)

    async def _idle_seconds(self) -> float:
        """How long to sleep when nothing wakes us: until the next retry, at most a poll.

        The next retry is read again only after a round that looked around (a lane
        ended, time passed), not after every commit that woke us.
        """
        if len(self._lanes) >= self._max_lanes:
            return self._idle_poll
        if self._retry_known_at != self._rounds_looked:
            self._next_due = await self._executor.read(self._store.next_retry)
            self._retry_known_at = self._rounds_looked
        if self._next_due is None:
            return self._idle_poll
        left = (self._next_due - self._clock.now()).total_seconds()
        return min(self._idle_poll, max(left, 0.005))

    async def _renew_leases(self) -> None:
        every = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if not self._leases:
                continue
            # Only the leases held when asking: one claimed meanwhile is not judged by
            # this answer, and one given up on (not in _leases) is left to expire.
            asked = list(self._leases)
            try:
                until = self._clock.now() + self._lease
                held = await self._executor.write(self._store.renew, until, asked)
            except Exception:
                log.exception("delivery worker: renewing leases failed")
                continue
            for subscription_id in asked:
                if subscription_id not in held:
                    self._leases.pop(subscription_id, None)
                elif subscription_id in self._leases:
                    self._leases[subscription_id] = until

    # -- a lane --------------------------------------------------------------------

    async def _run_lane(self, lane: Lane) -> None:
        sid = lane.subscription_id
        try:
            let_go = await self._deliver(lane)
        except asyncio.CancelledError:
            self._lanes.pop(sid, None)
            raise  # at shutdown, run() lets go of every lease still held
        except Exception:
            # Keep the lease until it expires: a lane that keeps failing is retried
            # once per lease period, not in a hot loop (by this or another worker).
            log.exception("delivery worker: lane %s failed; retried when its lease expires", sid)
            let_go = False
        self._lanes.pop(sid, None)
        if self._leases.pop(sid, None) is not None and let_go:
            try:
                await self._executor.write(self._store.release, [sid])
            except Exception:
                log.exception("delivery worker: releasing %s failed; the lease expires", sid)
        self._look_around = True  # its callback may need a lane again, or wait for a retry
        self._wake.set()

    async def _deliver(self, lane: Lane) -> bool:
        """Send the lane's deliveries in order until none is left or one fails.

        Returns whether the lease is still to be let go of (a failure's record
        already did, together with scheduling the retry).
        """
        sid = lane.subscription_id
        failures = lane.failures
        sent_upto = 0
        partner = await self._partner_of(lane)  # once per lane: is it a partner's intake?
        batch = (await self._executor.read(self._store.pending, sid)).get(sid, [])
        while True:
            if batch:
                ended = await self._send_in_order(lane, batch, failures, partner)
                if ended is not None:
                    return ended
                failures, sent_upto = 0, batch[-1].id
                if len(batch) == PENDING_BATCH:
                    batch = (await self._executor.read(self._store.pending, sid)).get(sid, [])
                    continue
            if self._linger <= 0:
                return True
            waiting = self._waiting[sid] = _Waiting(sent_upto)
            try:
                if not await _within(waiting.handed, self._linger):
                    return True
            finally:
                self._waiting.pop(sid, None)
            batch = waiting.deliveries

    async def _send_in_order(
        self, lane: Lane, batch: list[PendingDelivery], failures: int, partner: str | None
    ) -> bool | None:
        """Send a batch one by one. None: all went out. Otherwise the lane ends, and the
        value says whether its lease is still to be let go of (a failure's record did)."""
        sid = lane.subscription_id
        for delivery in batch:
            if not self._may_send(sid):
                return True
            # Under the id of the request that caused the event: its logs and span.
            with (
                correlation.bound(delivery.event.correlation_id),
                tracing.span("delivery", callback=sid, event=delivery.event.event_id),
            ):
                step = await self._send_one(lane, delivery, failures, partner)
            if step.next is not Next.DELIVERED:
                return False
            failures = 0
        return None

    async def _send_one(
        self, lane: Lane, delivery: PendingDelivery, failures: int, partner: str | None
    ) -> Step:
        sid = lane.subscription_id
        target = self._body(lane.callback, delivery, partner)
        if target is None:
            result = NOTHING_TO_SEND
        else:
            url, body = target
            result = await self._sender.send(
                Outgoing(url, delivery.event.event_id, lane.secret, body)
            )
        if partner is not None and await self._partner_refused(delivery, partner, result):
            result = SendResult(result.status, None, None, result.duration_ms)
            step = Step(Next.DELIVERED, 0)  # settled: the items were rejected
        else:
            step = self._policy.after(result, failures, self._rand)
        await self._acks.commit(self._attempt(delivery, sid, result, step))
        if step.next is Next.DELIVERED:
            log.debug("delivered event %s to callback %s", delivery.event.event_id, sid)
        else:
            # Said where the operator looks (the worker's log), not only in the
            # callback's health: a refusal by the allow-list or the networks is a
            # setting of this process (PSS_CALLBACK_ALLOWED_*), not the receiver's fault.
            log.warning(
                "delivery of event %s to callback %s failed (%s): %s",
                delivery.event.event_id,
                sid,
                result.describe(),
                step.next.value,
            )
        return step

    def _may_send(self, subscription_id: str) -> bool:
        """Only while the lease outlasts a whole send: otherwise another worker may take over."""
        until = self._leases.get(subscription_id)
        return until is not None and self._clock.now() + self._send_margin < until

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

    def _body(
        self, callback: str, delivery: PendingDelivery, partner: str | None = None
    ) -> tuple[str, bytes] | None:
        """Where the delivery goes (a v4 one: a listener path under the callback) and what
        it carries, rendered once per event and audience; a partner's intake gets the
        relayed event (None: nothing to tell it)."""
        audience = delivery.audience
        key = (delivery.event_seq, audience if partner is None else f"{audience}>{partner}")
        cached = self._rendered.get(key)
        if cached is None:
            if partner is None:
                envelope = self._db.publisher.render(delivery.event, audience)
                cached = (tmf4_events.listener_path(audience, envelope), orjson.dumps(envelope))
            else:
                assert self._relay is not None
                relayed = self._relay.body(delivery, partner)
                cached = ("", b"" if relayed is None else orjson.dumps(relayed))
            self._rendered[key] = cached
            if len(self._rendered) > RENDERED_CACHE:
                self._rendered.popitem(last=False)
        path, body = cached
        return (tmf4_events.target(callback, path), body) if body else None

    def _attempt(
        self, delivery: PendingDelivery, subscription_id: str, result: SendResult, step: Step
    ) -> Attempt:
        now = self._clock.now()
        return Attempt(
            delivery_id=delivery.id,
            subscription_id=subscription_id,
            attempted_at=format_instant(now),
            status=result.status,
            error=result.describe(),
            duration_ms=result.duration_ms,
            delivered=step.next is Next.DELIVERED,
            state=step.state,
            failures=step.failures,
            retry_at=format_instant(now + timedelta(seconds=step.delay))
            if step.next is Next.RETRY
            else None,
        )

    async def _release_all(self) -> None:
        if self._leases:
            try:
                await self._executor.write(self._store.release, list(self._leases))
            except Exception:
                log.exception("delivery worker: releasing leases failed; they expire")
            self._leases.clear()


class _Waiting:
    """A lane that ran out of work, waiting to be handed its callback's next deliveries."""

    def __init__(self, sent_upto: int) -> None:
        self.sent_upto = sent_upto
        self.deliveries: list[PendingDelivery] = []
        self.handed = asyncio.Event()

    def hand(self, deliveries: list[PendingDelivery]) -> None:
        # Read while the lane waited, so all unsent; the id check guards anyway.
        self.deliveries = [d for d in deliveries if d.id > self.sent_upto]
        if self.deliveries:
            self.handed.set()


async def _within(event: asyncio.Event, seconds: float) -> bool:
    """Whether ``event`` is set within ``seconds``."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _first(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> bool:
    """Sleep until ``stop`` or ``wake`` is set (True), or ``timeout`` seconds pass (False)."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
