"""The composition root: settings in, a wired application out. Tests pass their own parts."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from aiohttp.abc import AbstractResolver
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from starlette.applications import Starlette

from .api.app import create_app
from .api.auth import Authenticator
from .api.common import Services
from .api.contract import hub_query_shapes
from .api.jwks import JwksKeys
from .clock import Clock, SystemClock
from .config import ConfigError, Settings
from .domain.delivery import RetryPolicy
from .domain.hub import AddressPolicy
from .domain.retention import RetentionPolicy
from .domain.timers import TimerKind
from .events.intake import EventService
from .events.outbound_auth import OutboundAuth
from .events.partners import Pairing, PullFailed, PullLimits, sync
from .events.registrations import HubService
from .events.relay import PartnerRelay
from .events.sender import HttpSender
from .events.worker import DeliverySettings, DeliveryWorker
from .service.batching import BatchWriter
from .service.catalogue import CatalogueService, Imported
from .service.execution import Executor
from .service.handlers import ResponseTimePolicy
from .service.offerings import OfferingService
from .service.orders import OrderService
from .service.parties import PartyService
from .service.publishing import Publisher
from .service.retention import RetentionService
from .service.timers import TimerService
from .service.unit_of_work import Database
from .sla.figures import FiguresService
from .sla.metrics import ResponseTimeCollector, registry_for
from .store import migrate
from .store.database import Backend, make_engine, shown_url, unreachable

log = logging.getLogger(__name__)
SECRET_FILE = Path(".pss-ordering.secret")


def development_secret(settings: Settings, *, create: bool = False) -> str | None:
    """The HS256 secret: configured, or (with no asymmetric key either) a local random one.

    The generated secret lives in ``.pss-ordering.secret`` (mode 0600) in the
    working directory, so ``serve`` and ``token`` agree with no setup at all. Only
    ``serve`` creates it (``create``): any other command run from another directory
    would make a second secret whose tokens the server refuses, so there a missing
    file is a :class:`ConfigError` that says where the secret is looked for.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwt_public_key or settings.jwt_jwks_url:
        return None
    if not SECRET_FILE.exists():
        if not create:
            raise ConfigError(
                f"no PSS_JWT_SECRET and no development secret in {SECRET_FILE.resolve()} "
                "(serve creates it in the directory it runs in): run this command there, "
                "or set PSS_JWT_SECRET to the server's secret"
            )
        _create_secret_file()
    return SECRET_FILE.read_text().strip()


def _known_secret(settings: Settings) -> str | None:
    """The secret to verify tokens with, if there is one; commands that verify none
    (``worker``, ``sla``, ``callbacks``) run without."""
    try:
        return development_secret(settings)
    except ConfigError:
        return None


def _signature_hint(settings: Settings) -> str | None:
    """What a 401 for a bad signature adds in development mode (no configured key)."""
    if settings.jwt_secret or settings.jwt_public_key or settings.jwt_jwks_url:
        return None
    return (
        f"development mode: this server verifies tokens with the {SECRET_FILE} in the "
        "directory serve runs in; a token minted elsewhere was signed with another secret: "
        "run 'pss-ordering token' in that directory"
    )


def secret_source(settings: Settings) -> str:
    """Where tokens are verified from, for the commands to say (never the secret itself)."""
    if settings.jwt_secret:
        return "PSS_JWT_SECRET"
    if settings.jwt_public_key or settings.jwt_jwks_url:
        return "PSS_JWT_PUBLIC_KEY" if settings.jwt_public_key else "PSS_JWT_JWKS_URL"
    return f"development secret {SECRET_FILE.resolve()}"


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


def _create_secret_file() -> None:
    """Write the secret aside, then link it into place: processes that start together
    agree on one secret, and none ever reads a half-written file."""
    fd, written = tempfile.mkstemp(prefix=".pss-ordering.secret.", dir=SECRET_FILE.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp: mode 0600
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(written, SECRET_FILE)
        except FileExistsError:
            return  # another process created it first: use that one
        log.warning("no PSS_JWT_SECRET set: generated a development secret in %s", SECRET_FILE)
    finally:
        os.unlink(written)


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
    database = Database(engine, Publisher(settings.base_url))
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
        auth=Authenticator(
            secret=_known_secret(settings),
            public_key=settings.jwt_public_key,
            jwks_url=settings.jwt_jwks_url,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
            jwks=jwks_keys(settings),
            signature_hint=_signature_hint(settings),
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
        events=EventService(database, clock, orders),
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
        relay=PartnerRelay(services.database, services.orders),
    )


def build_app(
    settings: Settings | None = None, engine: Engine | None = None, clock: Clock | None = None
) -> Starlette:
    services = build_services(settings or Settings(), engine, clock)
    return create_app(services, lambda: build_delivery_worker(services))
