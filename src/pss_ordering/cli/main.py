"""``pss-ordering serve | token | migrate | worker | sla | callbacks | check-config``.

Every error a command can meet ends the same way (:class:`Commands`): one line on
stderr saying what is wrong and what to do, and a non-zero exit, whether it is a
usage error click finds, a setting that cannot be used (:class:`ConfigError`), or
a rule of the service (:class:`PssError`). Commands raise; none catches.

Commands build nothing themselves: they ask the composition root (``bootstrap``),
and those that need services ask the :class:`Wiring` on click's context object,
which tests replace (``CliRunner().invoke(cli, args, obj=Wiring(...))``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..config import ConfigError, Settings, load_settings
from ..domain.errors import PssError
from ..domain.identity import Role
from ..response_time.commands import sla
from .common import Wiring, existing_services, using


class Commands(click.Group):
    """The CLI's one error boundary (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except PssError as exc:
            raise click.ClickException(exc.message) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            returned = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "pss-ordering"
            click.echo(f"Error: {exc.format_message()} (see '{command} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(returned if isinstance(returned, int) else 0)


@click.group(cls=Commands)
@click.version_option(package_name="pss-ordering", prog_name="pss-ordering")
@click.pass_context
def cli(context: click.Context) -> None:
    """Product Order Management for a PSS (PSI TOD-03-02 on TMF622)."""
    if context.obj is None:
        context.obj = Wiring()


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default PSS_HOST or 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default PSS_PORT or 8080)."
)
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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file of parties and offerings to load at start.",
)
@click.option("--demo", is_flag=True, help="Load the demo parties and offerings.")
@click.pass_obj
def serve(
    wiring: Wiring,
    host: str | None,
    port: int | None,
    workers: int | None,
    seed: Path | None,
    demo: bool,
) -> None:
    """Start the HTTP service (migrates the database first)."""
    import uvicorn

    from ..bootstrap import serve_processes
    from ..signing_secret import development_secret
    from .seed import DEMO_SEED, load_seed

    _log_to_console()
    settings = _listening(host, port)
    processes = serve_processes(settings, workers)
    _refuse_errors(settings, processes)
    # Once, before any API process starts: migrations, the development secret, seed data.
    development_secret(settings, create=True)
    services = wiring.services(settings)
    try:
        for path in [p for p in (DEMO_SEED if demo else None, seed) if p is not None]:
            click.echo(f"seeded from {path}: {load_seed(services, path)}")
    finally:
        services.executor.close()
        services.database.engine.dispose()
    if demo:  # each API process reads its settings anew: the console offers the demo parties
        os.environ["PSS_CONSOLE_DEMO"] = "true"
    for line in _startup(settings, processes):
        click.echo(line)
    # Each process asks the composition root for its application, built from the
    # environment; the root hands it the background workers where they run.
    uvicorn.run(
        "pss_ordering.bootstrap:served_app",
        factory=True,
        workers=processes,
        host=settings.host,
        port=settings.port,
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
        http="pss_ordering.api.transport:ServedHttpTools",
        ws="none",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
    )


def _listening(host: str | None, port: int | None) -> Settings:
    """The settings with ``--host``/``--port`` applied, also for the API processes, which
    read theirs from the environment: so every one derives the same ``PSS_BASE_URL``."""
    for name, value in (("PSS_HOST", host), ("PSS_PORT", port)):
        if value is not None:
            os.environ[name] = str(value)
    return load_settings()


def _findings(settings: Settings, processes: int) -> list[Any]:
    from ..bootstrap import is_sqlite, sqlite_file
    from ..checks import findings

    sqlite = is_sqlite(settings.database_url)
    return findings(
        settings,
        os.environ,
        host=settings.host,
        processes=processes,
        sqlite=sqlite,
        in_memory=sqlite and sqlite_file(settings.database_url) is None,
    )


def _refuse_errors(settings: Settings, processes: int) -> None:
    """``serve`` refuses to start on the errors ``check-config`` reports, and prints the
    warnings (one list: checks.py)."""
    found = _findings(settings, processes)
    errors = [f.message for f in found if f.error]
    if errors:
        raise ConfigError("; ".join(errors))
    for finding in found:
        click.echo(str(finding), err=True)


def _startup(settings: Settings, processes: int) -> list[str]:
    """What ``serve`` says before it accepts requests: where, on what, with what."""
    from ..bootstrap import describe_database
    from ..signing_secret import secret_source

    plural = "es" if processes > 1 else ""
    derived = " (derived: PSS_BASE_URL is unset)" if settings.base_url_derived else ""
    workers = (
        "run inside serve"
        if settings.run_workers
        else "not run (PSS_RUN_WORKERS=false: run 'pss-ordering worker' beside it)"
    )
    return [
        f"serving on http://{settings.host}:{settings.port} with {processes} process{plural}",
        f"hrefs and events name {settings.base_url}{derived}",
        f"database {describe_database(settings)}",
        f"tokens verified with {secret_source(settings)}",
        f"background workers (timers, event delivery) {workers}",
    ]


@cli.command()
@click.option("--party", required=True, help="The party id (becomes the token's sub).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="A role the token carries; repeat the option for several (--role customer --role pss).",
)
@click.option(
    "--ttl",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Lifetime in seconds (at least 1, at most PSS_JWT_MAX_LIFETIME_SECONDS).",
)
def token(party: str, roles: tuple[str, ...], ttl: int) -> None:
    """Print a development HS256 token signed with the service's secret."""
    from ..api.auth import mint_token
    from ..signing_secret import development_secret

    settings = load_settings()
    secret = development_secret(settings)
    if secret is None:
        raise click.ClickException("tokens are verified with a public key here; no secret to sign")
    if ttl > settings.jwt_max_lifetime_seconds:
        raise click.ClickException(
            f"--ttl {ttl} exceeds the accepted token lifetime of "
            f"{settings.jwt_max_lifetime_seconds} s (PSS_JWT_MAX_LIFETIME_SECONDS)"
        )
    _using_secret(settings)
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


def _using_secret(settings: Settings) -> None:
    from ..signing_secret import secret_source

    click.echo(f"signed with {secret_source(settings)}", err=True)


@cli.command()
@click.pass_obj
def worker(wiring: Wiring) -> None:
    """Deliver events, fire timers and prune, without serving HTTP (run several on PostgreSQL).

    It needs the settings serve has: the database, the callback allow-list and
    networks, the callback credentials and the delivery settings.
    """
    from .. import tracing
    from ..bootstrap import build_workers, existing_database
    from ..workers import until_signalled

    _log_to_console()
    settings = existing_database(load_settings())
    using(settings)
    if not settings.callback_allowed_hosts:
        click.echo(
            "warning: PSS_CALLBACK_ALLOWED_HOSTS is empty: every delivery is refused", err=True
        )
    services = wiring.services(settings)
    tracing.enable(services.settings, services.database.engine)
    workers = build_workers(services)
    workers.start()
    try:
        click.echo(f"worker {workers.name} delivering events and firing timers")
        if not until_signalled(workers):
            raise click.ClickException("a background worker stopped; see the log")
    finally:
        workers.stop()
        services.executor.close()


@cli.group(cls=Commands, invoke_without_command=True)
@click.pass_context
def callbacks(context: click.Context) -> None:
    """List every callback with its delivery health (or resume one)."""
    if context.invoked_subcommand is None:
        from .seed import OPERATOR
        from .tables import callbacks_table

        services = existing_services(context.obj)
        click.echo(callbacks_table(services.hub.all_health(OPERATOR)))


@callbacks.command()
@click.argument("subscription_id")
@click.pass_obj
def resume(wiring: Wiring, subscription_id: str) -> None:
    """Resume delivery to a callback now: a halted or disabled one (PSI-01-02-03-07),
    or an active one waiting for its next retry, which is tried at once."""
    from .seed import OPERATOR
    from .tables import callbacks_table

    services = existing_services(wiring)
    found = [h for h in services.hub.all_health(OPERATOR) if h.subscription.id == subscription_id]
    if not found:
        raise click.ClickException(f"no callback '{subscription_id}'")
    health = services.hub.resume(OPERATOR, found[0].subscription.topic, subscription_id)
    click.echo(callbacks_table([health]))


@cli.command("sync-partners")
@click.option("--partner", default=None, help="Only this partner PSS (its party id).")
@click.pass_obj
def sync_partners(wiring: Wiring, partner: str | None) -> None:
    """Pull partner PSSs' offerings in as brokered offerings; register the relays."""
    import asyncio

    from ..bootstrap import partner_sync
    from ..events.partners import PullFailed

    services = wiring.services(Settings())
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
@click.pass_obj
def prune(wiring: Wiring, dry_run: bool) -> None:
    """Apply the retention policy now (PSS_RETENTION_*), in small batches; print per table."""
    from sqlalchemy.exc import OperationalError

    from .tables import prune_table

    services = wiring.services(Settings())
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
    sqlite = services.database.backend.gives_back_space
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
    from ..store.database import Backend

    engine = build_engine(Settings())
    if not Backend(engine).gives_back_space:
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

    settings = load_settings()
    using(settings)
    build_engine(settings).dispose()
    click.echo("database is up to date")


@cli.command("check-config")
@click.option("--host", default=None, help="Check for serving on this interface (as serve --host).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="As serve --workers.")
def check_config(host: str | None, workers: int | None) -> None:
    """Report missing or weak settings; exit 1 on an error serve would refuse to start with.

    Checks what serve checks (one list), and that the database can be opened.
    """
    from ..bootstrap import describe_database, serve_processes
    from ..checks import Finding

    settings = load_settings(**({"host": host} if host else {}))
    found = _findings(settings, serve_processes(settings, workers))
    problem = _database_problem(settings)
    if problem:
        found.append(Finding(True, problem))
    for finding in found:
        click.echo(str(finding))
    errors = sum(1 for f in found if f.error)
    click.echo(
        f"{errors} error(s), {len(found) - errors} warning(s); "
        f"database {describe_database(settings)}, serving on {settings.host}:{settings.port}"
    )
    if errors:
        sys.exit(1)


def _database_problem(settings: Settings) -> str | None:
    """Why the database cannot be opened, if it cannot (a SQLite file is not created)."""
    from ..bootstrap import is_sqlite, open_engine, sqlite_file

    database = sqlite_file(settings.database_url)
    if is_sqlite(settings.database_url) and (database is None or not database.exists()):
        if database is None or database.resolve().parent.is_dir():
            return None  # in memory, or a file serve creates
        return f"no directory {database.resolve().parent} for the database (PSS_DATABASE_URL)"
    try:
        open_engine(settings).dispose()
    except ConfigError as exc:
        return str(exc)
    return None


cli.add_command(sla)  # the response-time feature's own command (response_time/commands.py)
