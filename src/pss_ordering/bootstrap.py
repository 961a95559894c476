"""The composition root: the one place that builds things. Settings in; the database,
the services, the background workers and the ASGI application out.

Everything else asks it: each ``serve`` process (uvicorn imports :func:`served_app`),
the CLI (through the factory on its context object, ``cli/main.py``) and the tests
(:func:`build_app`, :func:`build_services`, handing in their own engine and clock).
The application never builds workers; the root hands them to its lifespan.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path

from aiohttp.abc import AbstractResolver
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from starlette.applications import Starlette

from . import logs, tracing
from .api.app import create_app
from .api.auth import Authenticator
from .api.common import Services
from .api.contract import hub_query_shapes
from .api.jwks import JwksKeys
from .api.transport import ServedHttpTools, TransportLimits
from .clock import Clock, SystemClock
from .config import ConfigError, Settings
from .domain.delivery import RetryPolicy
from .domain.hub import AddressPolicy
from .domain.retention import RetentionPolicy
from .domain.timers import TimerKind
from .events.background import DeliveryThread
from .events.intake import IntakeService
from .events.outbound_auth import OutboundAuth
from .events.partners import Pairing, PullFailed, PullLimits, sync
from .events.registrations import HubService
from .events.relay import PartnerRelay
from .events.sender import HttpSender
from .events.worker import DeliverySettings, DeliveryWorker
from .hrefs import OrderHrefs
from .response_time.figures import FiguresService
from .response_time.metrics import ResponseTimeCollector, registry_for
from .service.batching import BatchWriter
from .service.catalogue import CatalogueService, Imported
from .service.execution import Executor
from .service.handlers import ResponseTimePolicy
from .service.offerings import OfferingService
from .service.orders import OrderService
from .service.parties import PartyService
from .service.publishing import Publisher
from .service.retention import RetentionService, RetentionWorker
from .service.timers import TimerService, TimerWorker
from .service.unit_of_work import Database
from .signing_secret import known_secret, signature_hint
from .store import migrate
from .store.database import Backend, make_engine, shown_url, unreachable
from .workers import Designated, Workers

log = logging.getLogger(__name__)


def existing_database(settings: Settings) -> Settings:
    """The settings, when their SQLite file exists: commands other than ``serve``,
    ``migrate`` and ``worker`` read what a server wrote, and opening a file that is
    not there would create an empty database and answer from it."""
    database = sqlite_file(settings.database_url)
    if database is not None and not database.exists():
        raise ConfigError(
            f"no database at {database.resolve()} (PSS_DATABASE_URL "
            f"{settings.database_url}): run this command where serve runs, "
            "or set PSS_DATABASE_URL to the server's database"
        )
    return settings


def describe_database(settings: Settings) -> str:
    return shown_url(settings.database_url)


def jwks_keys(settings: Settings) -> JwksKeys | None:
    if not settings.jwt_jwks_url:
        return None
    return JwksKeys(
        settings.jwt_jwks_url,
        timeout=settings.jwks_timeout_seconds,
        cache_seconds=settings.jwks_cache_seconds,
        unknown_kid_seconds=settings.jwks_unknown_kid_seconds,
        min_refresh_seconds=settings.jwks_min_refresh_seconds,
    )


def open_engine(settings: Settings) -> Engine:
    """The engine of the configured database, which answered a first connection; a
    :class:`ConfigError` saying what to do when the URL or the database is unusable."""
    try:
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"PSS_DATABASE_URL: not a database URL ({exc}); "
            "expected sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        raise ConfigError(unreachable(settings.database_url, exc)) from None
    return engine


def build_engine(settings: Settings) -> Engine:
    engine = open_engine(settings)
    migrate.upgrade(engine)
    return engine


def serve_processes(settings: Settings, requested: int | None = None) -> int:
    """How many API processes ``serve`` runs: ``--workers``, else ``PSS_WORKERS``, else
    1 on SQLite (one writer at a time: more processes only add lock waits to writes)
    and the number of cores on PostgreSQL."""
    chosen = requested or settings.workers
    if chosen is not None:
        return chosen
    if is_sqlite(settings.database_url):
        return 1
    return os.cpu_count() or 1


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or another backend."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


def inline_reads(setting: str, engine: Engine) -> bool:
    """Whether bounded reads run on the event loop: ``always``, ``never``, or (``auto``) on
    SQLite, and on PostgreSQL when the server is on this machine (loopback or a Unix
    socket), where a round trip costs less than handing the read to a thread (measured:
    a list 0.94 -> 0.50 ms of CPU). Across a network the loop would wait for each."""
    if setting != "auto":
        return setting == "always"
    return Backend(engine).nearby


def build_services(
    settings: Settings, engine: Engine | None = None, clock: Clock | None = None
) -> Services:
    engine = engine or build_engine(settings)
    hrefs = OrderHrefs.at(settings.base_url)
    database = Database(engine, Publisher(hrefs))
    clock = clock or SystemClock()
    orders = OrderService(
        database,
        clock,
        settings.info_required_timeout,
        ResponseTimePolicy(
            default=settings.default_response_time,
            reject_after_grace=settings.breach_policy == "reject",
            grace=settings.breach_grace,
        ),
        count_limit=settings.exact_count_limit,
    )
    figures = FiguresService(database, clock)
    return Services(
        settings=settings,
        database=database,
        clock=clock,
        hrefs=hrefs,
        auth=Authenticator(
            secret=known_secret(settings),
            public_key=settings.jwt_public_key,
            jwks_url=settings.jwt_jwks_url,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
            jwks=jwks_keys(settings),
            signature_hint=signature_hint(settings),
        ),
        orders=orders,
        parties=PartyService(database),
        offerings=OfferingService(database),
        hub=HubService(
            database,
            clock,
            settings.callback_allowed_hosts,
            AddressPolicy.of(settings.callback_allowed_networks),
            query_shapes=hub_query_shapes(),
        ),
        intake=IntakeService(database, clock, orders, hrefs),
        figures=figures,
        metrics=registry_for(
            ResponseTimeCollector(figures, database, clock, settings.metrics_window)
        ),
        timers=TimerService(
            database,
            clock,
            {
                TimerKind.INFORMATION_REQUIRED: orders.information_timed_out,
                TimerKind.RESPONSE_DEADLINE: orders.deadline_passed,
                TimerKind.RESPONSE_GRACE: orders.grace_expired,
            },
        ),
        executor=Executor(
            writer=BatchWriter(database) if database.backend.single_writer else None,
            concurrency=settings.db_concurrency,
            inline_reads=inline_reads(settings.inline_reads, engine),
        ),
        retention=RetentionService(
            database,
            clock,
            RetentionPolicy(
                events=settings.retention_events,
                delivery_attempts=settings.retention_delivery_attempts,
                received_events=settings.retention_received_events,
                response_deadlines=settings.retention_response_deadlines,
            ),
            batch=settings.retention_batch,
        ),
    )


async def partner_sync(services: Services, only: str | None = None) -> list[Imported | PullFailed]:
    """One sync of the partner PSSs (catalogue, relays), authenticated as every call to
    their hosts is (the per-host outbound credentials)."""
    settings = services.settings
    auth = OutboundAuth(settings.callback_auth, timeout=settings.delivery_timeout_seconds)
    limits = PullLimits(settings.delivery_timeout_seconds, settings.max_body_bytes)
    pairing = Pairing(CatalogueService(services.database), services.hub, settings.base_url)
    try:
        return await sync(pairing, auth, limits, only)
    finally:
        await auth.close()


def build_delivery_worker(
    services: Services,
    settings: Settings | None = None,
    resolver: AbstractResolver | None = None,
) -> DeliveryWorker:
    """The delivery worker, with the HTTP sender and retry policy the settings describe.

    Tests may hand in other settings for this worker only, and their own DNS resolver.
    """
    settings = settings or services.settings
    sender = HttpSender(
        allowed_hosts=settings.callback_allowed_hosts,
        policy=AddressPolicy.of(settings.callback_allowed_networks),
        auth=OutboundAuth(settings.callback_auth, timeout=settings.delivery_timeout_seconds),
        timeout=settings.delivery_timeout_seconds,
        clock=services.clock,
        resolver=resolver,
    )
    return DeliveryWorker(
        services.database,
        # On SQLite the worker shares the API's group-commit writer; elsewhere its loop,
        # busy sending, hands every read to a thread (inline reads are for the API).
        services.executor
        if services.database.backend.single_writer
        else services.executor.threaded(),
        sender,
        services.clock,
        DeliverySettings(
            RetryPolicy(tuple(settings.delivery_retry_schedule), settings.delivery_jitter),
            lease_seconds=settings.delivery_lease_seconds,
            timeout_seconds=settings.delivery_timeout_seconds,
            max_lanes=settings.delivery_max_lanes,
        ),
        relay=PartnerRelay(services.database, services.orders, services.hrefs),
    )


def build_workers(services: Services) -> Workers:
    """Timers, delivery (syncing partners on its loop) and retention over ``services``."""
    settings = services.settings
    return Workers(
        timers=TimerWorker(services.timers, settings.timer_poll_seconds),
        delivery=DeliveryThread(
            build_delivery_worker(services),
            partial(partner_sync, services),
            settings.partner_sync_seconds,
        ),
        retention=RetentionWorker(services.retention, settings.retention_interval),
    )


def build_app(
    settings: Settings | None = None, engine: Engine | None = None, clock: Clock | None = None
) -> Starlette:
    """The application over services built here; with ``run_workers``, the workers run
    beside it in this process (tests hand in their own engine and clock)."""
    services = build_services(settings or Settings(), engine, clock)
    workers = build_workers(services) if services.settings.run_workers else None
    return create_app(services, workers)


def served_app() -> Starlette:
    """The application of one ``serve`` process, built from the environment (uvicorn's
    factory: the processes are spawned, not forked, so each builds its own settings,
    engine and services, and shares nothing in memory). The background workers run
    beside it where :class:`~.workers.Designated` places them."""
    settings = Settings()
    logs.configure(settings)
    ServedHttpTools.limits = TransportLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout=settings.header_timeout_seconds,
    )
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    tracing.enable(settings, engine)
    # The parent migrated before starting the processes; at head this is one read.
    migrate.upgrade(engine)
    services = build_services(settings, engine)
    background = None
    if settings.run_workers:
        background = Designated(partial(build_workers, services), designation_lock(settings))
    return create_app(services, background)


def designation_lock(settings: Settings) -> Path | None:
    """SQLite: the file whose lock designates the process running background work."""
    database = sqlite_file(settings.database_url)
    return None if database is None else database.with_name(database.name + ".workers.lock")
