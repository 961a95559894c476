"""One typed settings object: the only place that reads the environment.

Values come from ``PSS_*`` environment variables, then from an optional TOML
file named by ``PSS_CONFIG_FILE`` (keys are the field names, lower case), then
from the defaults below.

Nothing is silently ignored: a configuration file that does not exist, a key
the settings do not have (with the nearest one suggested), a value of the
wrong kind and an unusable ``PSS_BASE_URL`` or ``PSS_JWT_SECRET`` all raise
:class:`ConfigError`, one line that says which setting and what to do; the CLI
prints it and exits non-zero (``cli/main.py``).
"""

from __future__ import annotations

import difflib
import os
import socket
import tomllib
from collections.abc import Iterable
from datetime import timedelta
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from .domain.durations import MAX_DURATION, MAX_DURATION_TEXT

ENV_PREFIX = "PSS_"
API_PREFIX = "/psi-api"
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """Something the operator must fix before the service can run, said in one line
    (which setting, what was wrong, what to do)."""


class CallbackAuth(BaseModel):
    """How the PSS authenticates to one callback host (PSI-01-02-03-09, ADR035).

    ``oauth2``: client credentials at ``token_url`` (token cached, refreshed
    before it expires); ``bearer``: a static ``token``; ``basic``:
    ``username``/``password``; ``api_key``: ``value`` in the ``header`` named.
    """

    type: Literal["oauth2", "bearer", "basic", "api_key"]
    token: str | None = None
    username: str | None = None
    password: str | None = None
    header: str = "X-API-Key"
    value: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["basic", "post"] = "basic"

    @model_validator(mode="after")
    def _complete(self) -> CallbackAuth:
        needed = {
            "oauth2": ("token_url", "client_id", "client_secret"),
            "bearer": ("token",),
            "basic": ("username", "password"),
            "api_key": ("value",),
        }[self.type]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"{self.type} callback auth needs {', '.join(missing)}")
        return self


class Settings(BaseSettings):
    """Everything an operator can configure; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = "sqlite:///pss-ordering.db"
    # Unset: derived from where serve listens (host and port), see _derive_base_url.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080

    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["HS256", "RS256", "ES256"]
    )
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Hardening (issue 9): token lifetime, JWKS fetching, JSON Patch cost, transport limits.
    jwt_max_lifetime_seconds: int = Field(default=86_400, gt=0)
    jwks_timeout_seconds: float = Field(default=3.0, gt=0)
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_unknown_kid_seconds: float = Field(default=60.0, ge=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    max_patch_operations: int = Field(default=100, ge=1)
    max_header_bytes: int = Field(default=16_384, ge=1024)
    max_headers: int = Field(default=100, ge=10)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)

    default_page_limit: int = 20
    max_page_limit: int = 1000
    max_body_bytes: int = 1_000_000
    # Query cost, bounded before a query runs (domain/query.py): filter parameters
    # as sent (repeats included), and distinct conditions on nested attributes.
    max_filter_params: int = Field(default=100, ge=1)
    max_nested_filters: int = Field(default=10, ge=1)
    # Lists count their matches exactly up to this many; beyond, X-Total-Count is omitted.
    exact_count_limit: int = Field(default=10_000, ge=1)
    sqlite_synchronous: str = "FULL"

    db_concurrency: int = 8
    # Bounded reads (by id, one-range lists) on the event loop: always on SQLite; on
    # PostgreSQL ("auto") when the server is on this machine (see Executor).
    inline_reads: Literal["auto", "always", "never"] = "auto"
    callback_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    callback_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    callback_auth: dict[str, CallbackAuth] = Field(default_factory=dict)
    # Partner PSSs (issue 13): how often the delivering process syncs them (0: only
    # by ``pss-ordering sync-partners``).
    partner_sync_seconds: float = Field(default=3600.0, ge=0)

    delivery_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    delivery_jitter: float = Field(default=0.2, ge=0.0, le=1.0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_max_lanes: int = Field(default=256, ge=1)

    info_required_timeout: timedelta = timedelta(days=7)
    timer_poll_seconds: float = 0.5
    run_workers: bool = True
    # serve: API processes on one port; None: 1 on SQLite, the number of cores on PostgreSQL.
    workers: int | None = Field(default=None, ge=1)

    default_response_time: timedelta | None = timedelta(days=1)
    breach_policy: Literal["none", "reject"] = "none"
    breach_grace: timedelta = timedelta(hours=4)
    metrics_public: bool = False
    metrics_window: timedelta = timedelta(days=1)

    # Retention (domain/retention.py; README "Retention"): ISO-8601 durations such as P90D.
    retention_events: timedelta = timedelta(days=90)
    retention_delivery_attempts: timedelta = timedelta(days=30)
    # The idempotency window of received events: at least the delivery retry schedule.
    retention_received_events: timedelta = timedelta(days=30)
    # Closed response deadlines: at least the metrics window.
    retention_response_deadlines: timedelta = timedelta(days=400)
    # How often the background worker prunes (none: only ``pss-ordering prune``).
    retention_interval: timedelta | None = timedelta(hours=1)
    retention_batch: int = Field(default=500, ge=1, le=10_000)
    # Operating it (issue 15): logs, tracing, readiness and shutdown.
    # None: text when stderr is a terminal, JSON otherwise (logs.py).
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # OpenTelemetry spans (request, use case, database, delivery); needs the [otel] extra.
    otel_enabled: bool = False
    otel_service_name: str = "pss-ordering"
    # SIGTERM: in-flight requests get this long to finish before connections are closed.
    shutdown_timeout_seconds: int = Field(default=30, gt=0)
    # /ready: the database must answer within this long.
    ready_timeout_seconds: float = Field(default=2.0, gt=0)
    # The console (/console, issue 14). ``console_demo``: sign in by picking a demo party
    # (set by ``serve --demo``); otherwise OpenID Connect (code + PKCE) at ``oidc_issuer``.
    console_demo: bool = False
    console_session_secret: str | None = None
    console_session_seconds: int = Field(default=8 * 3600, gt=0)
    console_refresh_seconds: float = Field(default=2.0, gt=0)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid"
    _base_url_derived: bool = PrivateAttr(default=False)

    @field_validator(
        "jwt_algorithms",
        "callback_allowed_hosts",
        "callback_allowed_networks",
        "delivery_retry_schedule",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_response_time", "retention_interval", mode="before")
    @classmethod
    def _none_means_no_deadline(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "none":
            return None
        return value

    @field_validator(
        "info_required_timeout",
        "default_response_time",
        "breach_grace",
        "metrics_window",
        "retention_events",
        "retention_delivery_attempts",
        "retention_received_events",
        "retention_response_deadlines",
        "retention_interval",
    )
    @classmethod
    def _representable(cls, value: timedelta | None) -> timedelta | None:
        """Durations are added to dates: at most 100 years, so the sum stays a date."""
        if value is not None and not timedelta(0) <= value <= MAX_DURATION:
            raise ValueError(f"must be between 0 and {MAX_DURATION_TEXT}")
        return value

    @field_validator("callback_allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ip_network(entry, strict=False)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                "not a database URL this service uses: expected sqlite:///FILE or "
                "postgresql://USER@HOST:PORT/DATABASE"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return check_base_url(value) if value else value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"is {len(value.encode())} bytes; at least {MIN_SECRET_BYTES} are needed "
                "(generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @model_validator(mode="after")
    def _derive_base_url(self) -> Settings:
        """With no ``PSS_BASE_URL``, the ``href``s name where the service listens."""
        if not self.base_url:
            self.base_url = listening_url(self.host, self.port)
            self._base_url_derived = True
        return self

    @property
    def base_url_derived(self) -> bool:
        """Whether ``base_url`` was derived from ``host`` and ``port`` (none was set)."""
        return self._base_url_derived

    @model_validator(mode="after")
    def _lease_outlasts_sends(self) -> Settings:
        if self.delivery_lease_seconds < 3 * self.delivery_timeout_seconds:
            raise ValueError(
                "delivery_lease_seconds must be at least three times delivery_timeout_seconds, "
                "so that a lease never expires during a send"
            )
        return self

    @model_validator(mode="after")
    def _retention_keeps_what_is_needed(self) -> Settings:
        resend = timedelta(seconds=sum(self.delivery_retry_schedule))
        if self.retention_received_events < resend:
            raise ValueError(
                f"retention_received_events must be at least the delivery retry schedule "
                f"({resend}), the longest a sender keeps resending one event"
            )
        if self.retention_response_deadlines < self.metrics_window:
            raise ValueError(
                "retention_response_deadlines must be at least metrics_window, "
                "whose figures are read from them"
            )
        if self.retention_interval is not None and self.retention_interval <= timedelta(0):
            raise ValueError("retention_interval must be positive, or none")
        return self

    @field_validator("sqlite_synchronous")
    @classmethod
    def _check_synchronous(cls, value: str) -> str:
        value = value.upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("must be one of OFF, NORMAL, FULL, EXTRA")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PSS_CONFIG_FILE")
        if config_file:
            sources.append(
                TomlConfigSettingsSource(settings_cls, toml_file=_checked_file(config_file))
            )
        return tuple(sources)


def _checked_file(name: str) -> Path:
    """The configuration file, refused when missing, malformed or holding unknown keys."""
    path = Path(name)
    if not path.is_file():
        raise ConfigError(
            f"PSS_CONFIG_FILE names {path.resolve()}, which does not exist: "
            "fix the path or unset PSS_CONFIG_FILE"
        )
    try:
        keys = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"PSS_CONFIG_FILE {path}: not valid TOML ({exc})") from None
    for key in keys:
        if key not in Settings.model_fields:
            raise ConfigError(f"PSS_CONFIG_FILE {path}: unknown setting '{key}'{_suggestion(key)}")
    return path


def _suggestion(name: str) -> str:
    near = difflib.get_close_matches(name.lower(), list(Settings.model_fields), n=1, cutoff=0.7)
    return f" (did you mean '{near[0]}'?)" if near else ""


def unknown_environment(environ: Iterable[str]) -> list[str]:
    """``PSS_*`` variables that name no setting, each with the nearest one if any (a
    variable may belong to something else, so these are warnings, not errors)."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {"PSS_CONFIG_FILE"}
    return [
        f"{name} is not a setting{_suggestion(name[len(ENV_PREFIX) :])}"
        for name in sorted(environ)
        if name.startswith(ENV_PREFIX) and name not in known
    ]


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a :class:`ConfigError` naming the first setting that is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from None


# Values never repeated in a message: they may hold credentials.
_NOT_SHOWN = frozenset({"jwt_secret", "jwt_public_key", "callback_auth", "database_url"})


def describe_invalid(error: ValidationError) -> str:
    """Pydantic's errors as one line: each setting by its variable name, what was expected
    and what was given."""
    parts = []
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if not location:
            parts.append(message)
            continue
        name = ENV_PREFIX + location[0].upper()
        where = "".join(f"[{part}]" for part in location[1:])
        given = item.get("input")
        shown = (
            f" (got {given!r})"
            if isinstance(given, (str, int, float)) and location[0] not in _NOT_SHOWN
            else ""
        )
        parts.append(f"{name}{where}: {message[0].lower()}{message[1:]}{shown}")
    return "; ".join(parts)


def check_base_url(value: str) -> str:
    """``PSS_BASE_URL`` is where clients reach the service: scheme, host, optional port
    and path, without the API prefix (each API adds its ``/psi-api/...`` itself)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://pss.example.org")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or a fragment")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("has a malformed port") from None
    if API_PREFIX + "/" in parts.path.rstrip("/") + "/":
        raise ValueError(
            f"must not contain {API_PREFIX} (every href would carry it twice): "
            f"give the URL before it, e.g. {parts.scheme}://{parts.netloc}"
        )
    return value.rstrip("/")


def listening_url(host: str, port: int) -> str:
    """The URL of a server listening on ``host``:``port``: a wildcard address stands for
    this machine's name, an IPv6 literal is bracketed."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    try:
        if ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
