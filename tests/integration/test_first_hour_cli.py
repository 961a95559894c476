"""The first hour, tried as a new operator would (issue 15): every mistake a command can
meet is one line on stderr and a non-zero exit, nothing is silently ignored, and no
command run from the wrong directory answers from a new secret or an empty database.

Each class of mistake is tested over the whole class where it has members the code can
list (every numeric setting, every setting's name misspelt), through the CLI itself.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pss_ordering.cli.main import cli
from pss_ordering.config import ConfigError, Settings, load_settings

LONG_SECRET = "first-hour-secret-long-enough-for-hs256-tokens"


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty directory with no PSS_* setting in the environment (serve sets PSS_HOST
    and PSS_PORT for its API processes: both are put back afterwards)."""
    import os

    for name in ("PSS_HOST", "PSS_PORT"):
        monkeypatch.setenv(name, "")
    for name in [n for n in os.environ if n.startswith("PSS_") and n != "PSS_TEST_POSTGRES_URL"]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def one_line_error(result: Result) -> str:
    """The class contract: non-zero exit, the error in one line (stderr's last; warnings
    and the database in use may come before it), no traceback."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], result.stderr
    assert all(line.startswith(("warning: ", "database ")) for line in lines[:-1])
    assert "Traceback" not in result.output
    return lines[-1]


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"PSS_CONFIG_FILE": "missing.toml"}, ["migrate"], "does not exist"),
        ({"PSS_DELIVERY_TIMEOUT_SECONDS": "ten"}, ["migrate"], "PSS_DELIVERY_TIMEOUT_SECONDS"),
        ({"PSS_BASE_URL": "not a url"}, ["migrate"], "PSS_BASE_URL: must be an http(s) URL"),
        ({"PSS_BASE_URL": "http://h:1/psi-api"}, ["migrate"], "must not contain /psi-api"),
        ({"PSS_BASE_URL": "http://h/x/psi-api/v2"}, ["migrate"], "must not contain /psi-api"),
        ({"PSS_BASE_URL": "http://h/?a=b"}, ["migrate"], "query or a fragment"),
        ({"PSS_BASE_URL": "http://h/#top"}, ["migrate"], "query or a fragment"),
        ({"PSS_DATABASE_URL": "nonsense"}, ["migrate"], "PSS_DATABASE_URL: not a database URL"),
        ({"PSS_DATABASE_URL": "mysql://h/db"}, ["migrate"], "PSS_DATABASE_URL: not a database URL"),
        ({}, ["sla", "--from", "yesterday"], "'--from': 'yesterday' is not an ISO-8601"),
        ({}, ["sla", "--to", "9999-12-31T23:59:59-05:00"], "'--to'"),
        ({}, ["token", "--party", "a", "--role", "customer", "--ttl", "-5"], "'--ttl'"),
        ({}, ["token", "--party", "a", "--role", "customer", "--ttl", "0"], "'--ttl'"),
        ({}, ["token", "--party", "a", "--role", "king"], "'--role'"),
        ({}, ["serve", "--port", "99999"], "'--port'"),
        ({}, ["serve", "--seed", "nowhere.json"], "'--seed'"),
        ({}, ["serve", "--wrokers", "2"], "--wrokers"),
        ({}, ["nonsense"], "No such command"),
    ],
)
def test_every_cli_error_is_one_line_and_a_non_zero_exit(
    workdir: Path, env: dict[str, str], args: list[str], expected: str
) -> None:
    """Settings errors and usage errors look alike: 'Error: <what, and what to do>'."""
    line = one_line_error(run(*args, env={"PSS_JWT_SECRET": LONG_SECRET, **env}))
    assert expected in line
    assert not (workdir / "pss-ordering.db").exists()


NUMERIC = [
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in (int, float)
    or (
        typing.get_origin(field.annotation) in (typing.Union, types.UnionType)
        and set(typing.get_args(field.annotation)) & {int, float}
    )
]


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_setting_names_itself_when_it_is_not_a_number(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(f"PSS_{name.upper()}", "twelve")
    line = one_line_error(run("migrate"))
    assert f"PSS_{name.upper()}: input should be a valid" in line
    assert "'twelve'" in line


def _misspelt(name: str) -> str:
    """The third letter left out."""
    return name[:2] + name[3:]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_misspelt_key_in_the_config_file_is_refused_with_the_right_one(
    workdir: Path, name: str
) -> None:
    config = workdir / "pss.toml"
    config.write_text(f'{_misspelt(name)} = "x"\n')
    line = one_line_error(run("migrate", env={"PSS_CONFIG_FILE": str(config)}))
    assert f"unknown setting '{_misspelt(name)}'" in line
    assert f"did you mean '{name}'?" in line


def test_a_secret_shorter_than_32_bytes_is_refused_and_never_shown(workdir: Path) -> None:
    line = one_line_error(run("migrate", env={"PSS_JWT_SECRET": "s3cret-but-short"}))
    assert "PSS_JWT_SECRET" in line and "at least 32" in line
    assert "s3cret-but-short" not in line


def test_a_missing_postgresql_database_says_to_create_it(workdir: Path, postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/pss_first_hour_absent"
    line = one_line_error(run("migrate", env={"PSS_DATABASE_URL": missing}))
    assert "database 'pss_first_hour_absent' does not exist" in line
    assert "createdb" in line and "pss_first_hour_absent" in line


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        ("{not json", "not JSON"),
        ('["a"]', "must be a JSON object"),
        ('{"organisation": []}', "unknown key(s) organisation"),
        ('{"organization": {"id": "x"}}', "'organization' must be a list"),
        (
            '{"organization": [{"id": "ok", "name": "OK"}, {"id": "bad", "name": 5}]}',
            "[1] (id bad)",
        ),
        ('{"productOffering": [{"id": "po", "lifecycleStatus": 7}]}', "productOffering[0] (id po)"),
    ],
)
def test_a_bad_seed_file_names_the_entry(workdir: Path, seed: str, expected: str) -> None:
    path = workdir / "seed.json"
    path.write_text(seed)
    line = one_line_error(run("serve", "--seed", str(path), env={"PSS_JWT_SECRET": LONG_SECRET}))
    assert f"seed {path}" in line and expected in line


def test_a_restarted_demo_seed_says_nothing_new(workdir: Path) -> None:
    from pss_ordering.bootstrap import build_services
    from pss_ordering.cli.seed import DEMO_SEED, load_seed

    services = build_services(load_settings(jwt_secret=LONG_SECRET))
    try:
        assert str(load_seed(services, DEMO_SEED)).startswith("created 3 organization")
        assert str(load_seed(services, DEMO_SEED)) == "nothing new (6 entries already present)"
    finally:
        services.executor.close()
        services.database.engine.dispose()


@pytest.mark.parametrize("args", [["sla"], ["callbacks"], ["callbacks", "resume", "x"], ["worker"]])
def test_commands_run_elsewhere_refuse_instead_of_creating_an_empty_database(
    workdir: Path, args: list[str]
) -> None:
    line = one_line_error(run(*args, env={"PSS_JWT_SECRET": LONG_SECRET}))
    assert f"no database at {workdir / 'pss-ordering.db'}" in line
    assert "PSS_DATABASE_URL" in line
    assert not (workdir / "pss-ordering.db").exists()


def test_token_refuses_to_create_a_secret_outside_serve(workdir: Path) -> None:
    line = one_line_error(run("token", "--party", "a", "--role", "customer"))
    assert str(workdir / ".pss-ordering.secret") in line and "PSS_JWT_SECRET" in line
    assert not (workdir / ".pss-ordering.secret").exists()


def test_commands_say_which_database_they_use(workdir: Path) -> None:
    assert run("migrate").exit_code == 0
    listed = run("callbacks")
    assert listed.exit_code == 0, listed.output
    assert f"database sqlite:///{workdir / 'pss-ordering.db'}" in listed.stderr
    assert listed.stdout.strip() == "no callbacks are registered"


def test_sla_for_an_unknown_provider_says_so(workdir: Path) -> None:
    assert run("migrate").exit_code == 0
    line = one_line_error(run("sla", "--provider", "nobody"))
    assert "provider 'nobody' is unknown" in line
    figures = run("sla", "--from", "2026-01-01T00:00:00Z")
    assert figures.exit_code == 0 and "no orders have been submitted" in figures.stdout


def test_serve_refuses_a_non_loopback_host_without_a_secret(workdir: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        line = one_line_error(run("serve", "--host", host))
        assert "no PSS_JWT_SECRET (nor PSS_JWT_PUBLIC_KEY or PSS_JWT_JWKS_URL) while " in line
        assert "set PSS_JWT_SECRET" in line
    assert not (workdir / ".pss-ordering.secret").exists()
    assert not (workdir / "pss-ordering.db").exists()


def test_version() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pss-ordering, version {version('pss-ordering')}"


def test_check_config_passes_a_loopback_development_setup_with_warnings(workdir: Path) -> None:
    result = run("check-config")
    assert result.exit_code == 0, result.output
    assert "warning: development secret in use" in result.stdout
    assert "warning: PSS_CALLBACK_ALLOWED_HOSTS is empty" in result.stdout
    assert "0 error(s), 2 warning(s)" in result.stdout
    assert not (workdir / "pss-ordering.db").exists(), "checking creates nothing"


def test_check_config_reports_weak_settings(workdir: Path) -> None:
    result = run(
        "check-config",
        "--workers",
        "3",
        env={
            "PSS_JWT_SECRET": LONG_SECRET,
            "PSS_SQLITE_SYNCHRONOUS": "normal",
            "PSS_CALLBACK_ALLOWED_HOSTS": "cb.example:443",
            "PSS_DATABSE_URL": "sqlite:///other.db",
        },
    )
    assert result.exit_code == 0, result.output
    assert "warning: SQLite with 3 processes" in result.stdout
    assert "warning: PSS_SQLITE_SYNCHRONOUS=NORMAL" in result.stdout
    assert "PSS_DATABSE_URL is not a setting (did you mean 'database_url'?)" in result.stdout
    assert "development secret" not in result.stdout


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({}, ["--host", "0.0.0.0"], "error: no PSS_JWT_SECRET"),
        ({"PSS_DATABASE_URL": "sqlite://"}, ["--workers", "2"], "error: an in-memory SQLite"),
        ({"PSS_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, [], "error: cannot open"),
    ],
)
def test_check_config_exits_non_zero_on_what_serve_refuses(
    workdir: Path, env: dict[str, str], args: list[str], expected: str
) -> None:
    result = run("check-config", *args, env=env)
    assert result.exit_code == 1, result.output
    assert expected in result.stdout


def test_check_config_reports_settings_that_cannot_be_read(workdir: Path) -> None:
    line = one_line_error(run("check-config", env={"PSS_JWT_SECRET": "short"}))
    assert "PSS_JWT_SECRET" in line


def test_base_url_is_derived_from_where_serve_listens(workdir: Path) -> None:
    """No PSS_BASE_URL: the hrefs name the host and port serve listens on."""
    assert load_settings(port=8331).base_url == "http://127.0.0.1:8331"
    assert load_settings(host="::1", port=8331).base_url == "http://[::1]:8331"
    given = load_settings(base_url="https://pss.example/base/", port=8331)
    assert given.base_url == "https://pss.example/base" and not given.base_url_derived
    with pytest.raises(ConfigError, match="PSS_BASE_URL"):
        load_settings(base_url="https://pss.example/psi-api")


def test_seed_loaded_by_serve_reads_back_as_json(workdir: Path) -> None:
    """The documented seed format round-trips (the demo file is one)."""
    from pss_ordering.cli.seed import DEMO_SEED, KINDS

    assert set(json.loads(DEMO_SEED.read_text())) == set(KINDS)


def test_help_says_that_role_repeats_and_what_resume_does() -> None:
    token_help = " ".join(run("token", "--help").stdout.split())
    assert "repeat the option for several" in token_help
    assert "at least 1" in token_help
    resume_help = " ".join(run("callbacks", "resume", "--help").stdout.split())
    assert "active one waiting for its next retry" in resume_help
