"""``pss-ordering serve | token | migrate``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..config import Settings


@click.group()
def cli() -> None:
    """Product Order Management for a PSS (PSI TOD-03-02 on TMF622)."""


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default PSS_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PSS_PORT or 8080).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="API processes on the port (default PSS_WORKERS, else 1 on SQLite, "
    "the number of cores on PostgreSQL).",
)
@click.option(
    "--seed",
    "seed",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="JSON file of parties and offerings to load at start.",
)
@click.option("--demo", is_flag=True, help="Load the demo parties and offerings.")
def serve(
    host: str | None, port: int | None, workers: int | None, seed: Path | None, demo: bool
) -> None:
    """Start the HTTP service (migrates the database first)."""
    import uvicorn

    from ..bootstrap import build_services, is_sqlite, serve_processes, sqlite_file
    from .seed import DEMO_SEED, load_seed

    _log_to_console()
    settings = Settings()
    processes = serve_processes(settings, workers)
    if (
        processes > 1
        and is_sqlite(settings.database_url)
        and not sqlite_file(settings.database_url)
    ):
        raise click.ClickException(
            "an in-memory SQLite database lives in one process: serve it with --workers 1"
        )
    # Once, before any API process starts: migrations, the development secret, seed data.
    services = build_services(settings)
    try:
        for path in [p for p in (DEMO_SEED if demo else None, seed) if p is not None]:
            click.echo(f"seeded from {path}: {load_seed(services, path)}")
    finally:
        services.executor.close()
        services.database.engine.dispose()
    if demo:  # each API process reads its settings anew: the console offers the demo parties
        os.environ["PSS_CONSOLE_DEMO"] = "true"
    bound = f"http://{host or settings.host}:{port or settings.port}"
    click.echo(f"serving on {bound} with {processes} process{'es' if processes > 1 else ''}")
    if processes > 1 and is_sqlite(settings.database_url):
        click.echo(
            "SQLite with several processes: reads scale with them, writes do not "
            "(one writer at a time; each process waits for the database lock)"
        )
    # Each process builds its own application from the environment (api/asgi.py).
    uvicorn.run(
        "pss_ordering.api.asgi:app",
        factory=True,
        workers=processes,
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        # Logging is ours (logs.py): one handler, and our access record instead of uvicorn's.
        log_config=None,
        access_log=False,
        # SIGTERM: stop accepting, give in-flight requests this long, then the lifespan
        # shutdown stops the workers, which let go of their leases (README).
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        # Transport limits (api/transport.py): header size, count and time on the
        # httptools parser; connections and tasks beyond max_connections get 503
        # (per process).
        http="pss_ordering.api.asgi:ServedHttpTools",
        ws="none",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
    )


@cli.command()
@click.option("--party", required=True, help="The party id (becomes the token's sub).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["customer", "provider", "pss", "governance"]),
)
@click.option("--ttl", default=3600, show_default=True, help="Lifetime in seconds.")
def token(party: str, roles: tuple[str, ...], ttl: int) -> None:
    """Print a development HS256 token signed with the service's secret."""
    from ..api.auth import mint_token
    from ..bootstrap import development_secret

    settings = Settings()
    secret = development_secret(settings)
    if secret is None:
        raise click.ClickException("tokens are verified with a public key here; no secret to sign")
    if ttl > settings.jwt_max_lifetime_seconds:
        raise click.ClickException(
            f"--ttl {ttl} exceeds the accepted token lifetime of "
            f"{settings.jwt_max_lifetime_seconds} s (PSS_JWT_MAX_LIFETIME_SECONDS)"
        )
    click.echo(
        mint_token(
            secret,
            party,
            roles,
            lifetime_seconds=ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )


@cli.command()
def worker() -> None:
    """Deliver events, fire timers and prune, without serving HTTP (run several on PostgreSQL)."""
    import asyncio
    import signal
    from functools import partial

    from .. import tracing
    from ..bootstrap import build_delivery_worker, build_services, partner_sync
    from ..events.background import repeat
    from ..service.retention import RetentionWorker
    from ..service.timers import TimerWorker

    _log_to_console()
    services = build_services(Settings())
    tracing.enable(services.settings, services.database.engine)
    delivery = build_delivery_worker(services)
    timers = TimerWorker(services.timers, services.settings.timer_poll_seconds)
    pruning = RetentionWorker(services.retention, services.settings.retention_interval)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        every = services.settings.partner_sync_seconds
        syncing = (
            asyncio.create_task(repeat(partial(partner_sync, services), every)) if every else None
        )
        try:
            await delivery.run(stop)
        finally:
            if syncing is not None:
                syncing.cancel()

    timers.start()
    pruning.start()
    click.echo(f"worker {delivery.name} delivering events and firing timers")
    try:
        asyncio.run(run())
    finally:
        pruning.stop()
        timers.stop()
        services.executor.close()


@cli.command()
@click.option("--provider", default=None, help="Only this provider.")
@click.option("--from", "start", default=None, help="Deadlines started at or after (ISO-8601).")
@click.option("--to", "end", default=None, help="Deadlines started before (ISO-8601).")
def sla(provider: str | None, start: str | None, end: str | None) -> None:
    """Print each provider's response-time figures (governance's view)."""
    from ..bootstrap import build_services
    from .seed import OPERATOR
    from .tables import sla_table

    services = build_services(Settings())
    click.echo(sla_table(services.figures.figures(OPERATOR, provider, start, end)))


@cli.group(invoke_without_command=True)
@click.pass_context
def callbacks(context: click.Context) -> None:
    """List every callback with its delivery health (or resume one)."""
    if context.invoked_subcommand is None:
        from ..bootstrap import build_services
        from .seed import OPERATOR
        from .tables import callbacks_table

        services = build_services(Settings())
        click.echo(callbacks_table(services.hub.all_health(OPERATOR)))


@callbacks.command()
@click.argument("subscription_id")
def resume(subscription_id: str) -> None:
    """Resume delivery to a halted or disabled callback (PSI-01-02-03-07)."""
    from ..bootstrap import build_services
    from .seed import OPERATOR
    from .tables import callbacks_table

    services = build_services(Settings())
    found = [h for h in services.hub.all_health(OPERATOR) if h.subscription.id == subscription_id]
    if not found:
        raise click.ClickException(f"no callback '{subscription_id}'")
    health = services.hub.resume(OPERATOR, found[0].subscription.topic, subscription_id)
    click.echo(callbacks_table([health]))


@cli.command("sync-partners")
@click.option("--partner", default=None, help="Only this partner PSS (its party id).")
def sync_partners(partner: str | None) -> None:
    """Pull partner PSSs' offerings in as brokered offerings; register the relays."""
    import asyncio

    from ..bootstrap import build_services, partner_sync
    from ..events.partners import PullFailed

    services = build_services(Settings())
    try:
        results = asyncio.run(partner_sync(services, only=partner))
    finally:
        services.executor.close()
    failed = False
    for result in results:
        if isinstance(result, PullFailed):
            failed = True
            click.echo(f"not refreshed: {result}", err=True)
        else:
            click.echo(
                f"{result.partner_id}: {result.added} added, {result.updated} updated, "
                f"{result.retired} retired; relays registered"
            )
    if failed:
        raise SystemExit(1)


def _log_to_console() -> None:
    from ..logs import configure

    configure(Settings())


@cli.command()
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
def prune(dry_run: bool) -> None:
    """Apply the retention policy now (PSS_RETENTION_*), in small batches; print per table."""
    from sqlalchemy.exc import OperationalError

    from ..bootstrap import build_services
    from .tables import prune_table

    services = build_services(Settings())
    try:
        report = services.retention.prune(dry_run=dry_run)
        pages = 0 if dry_run else services.retention.reclaim_space()
        click.echo(prune_table(report, services.retention.counts()))
    except OperationalError as error:  # e.g. PostgreSQL's lock timeout on a busy row
        first = str(error.orig).strip().splitlines()[0]
        raise click.ClickException(
            f"pruning stopped ({first}); the batches before it are kept: run it again"
        ) from None
    finally:
        services.executor.close()
    sqlite = services.database.engine.dialect.name == "sqlite"
    click.echo(f"{report.batches} batches" + (f"; {pages} free pages given back" if sqlite else ""))
    if report.interrupted:
        raise click.ClickException("another process is pruning now; nothing more was done")
    if sqlite:
        from ..store import maintenance

        if maintenance.auto_vacuum(services.database.engine) != maintenance.INCREMENTAL:
            click.echo(
                "this SQLite database predates incremental vacuum: its file keeps its size "
                "(freed pages are reused); run `pss-ordering vacuum` once, service stopped"
            )


@cli.command()
def vacuum() -> None:
    """SQLite, once, with the service stopped: switch an existing database to incremental
    auto-vacuum (rewrites the file), so pruning gives space back from then on."""
    from ..bootstrap import build_engine
    from ..store import maintenance

    engine = build_engine(Settings())
    if engine.dialect.name != "sqlite":
        raise click.ClickException("vacuum is for SQLite; PostgreSQL's autovacuum does this")
    maintenance.convert_to_incremental(engine)
    click.echo("incremental auto-vacuum is on; pruning now gives free pages back")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Copy the SQLite database to PATH while the service runs (SQLite's online backup)."""
    from ..bootstrap import sqlite_file
    from ..store import maintenance
    from ..store.database import normalise_url

    settings = Settings()
    database = sqlite_file(settings.database_url)
    if database is None:
        if normalise_url(settings.database_url).startswith("postgresql"):
            raise click.ClickException(
                "backup copies SQLite files; for PostgreSQL use pg_dump, e.g. "
                "`pg_dump --format=custom --file=pss.dump <database url>` "
                "(README: Backup and restore)"
            )
        raise click.ClickException("an in-memory database has no file to back up")
    if not database.is_file():
        raise click.ClickException(f"no SQLite database at {database}")
    if path.exists():
        raise click.ClickException(f"{path} exists; choose a new file")
    maintenance.backup(database, path)
    click.echo(f"backed up {database} to {path}")


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date and exit."""
    from ..bootstrap import build_engine

    build_engine(Settings())
    click.echo("database is up to date")
