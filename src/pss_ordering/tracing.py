"""Optional OpenTelemetry tracing: spans for requests, use cases, database work and
deliveries, when ``PSS_OTEL_ENABLED`` is set and the ``[otel]`` extra is installed.

Off (the default), every function here is a no-op and nothing of OpenTelemetry is
imported, so the service runs without the extra. On, :func:`enable` builds a
tracer provider of this service's own (not the process-wide global, which can be
set only once) exporting over OTLP/HTTP (configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables), or to the exporter a test hands in. Request
spans come from the ASGI instrumentation, statement spans from the SQLAlchemy
instrumentation; use cases, commits and deliveries get spans here. Spans follow
the work across threads because the OpenTelemetry context is a context variable,
which the executor carries to the thread that runs the use case.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from . import correlation

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer
    from sqlalchemy import Engine
    from starlette.types import ASGIApp

    from .config import Settings

_NOTHING: AbstractContextManager[None] = nullcontext()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


class TracingUnavailable(RuntimeError):
    """PSS_OTEL_ENABLED is set but the OpenTelemetry packages are not installed."""


def enable(
    settings: Settings, engine: Engine | None = None, exporter: SpanExporter | None = None
) -> bool:
    """Start tracing when the settings ask for it; returns whether it is on."""
    global _provider, _tracer
    if not settings.otel_enabled:
        return False
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as missing:
        raise TracingUnavailable(
            "PSS_OTEL_ENABLED needs the OpenTelemetry packages: pip install 'pss-ordering[otel]'"
        ) from missing
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider, _tracer = provider, provider.get_tracer("pss_ordering")
    if engine is not None:
        # The instrumentation declares SQLAlchemy < 2.1; its engine events are the same in 2.1.
        SQLAlchemyInstrumentor().instrument(
            engine=engine, tracer_provider=provider, skip_dep_check=True
        )
    return True


def disable() -> None:
    """Stop tracing (flushing what was recorded); the counterpart of :func:`enable`."""
    global _provider, _tracer
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _provider.shutdown()
    _provider = _tracer = None


def enabled() -> bool:
    return _tracer is not None


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span around a block, a child of the current one; nothing when tracing is off
    (a shared no-op, cheap enough for the commit path)."""
    if _tracer is None:
        return _NOTHING
    request_id = correlation.current_id()
    if request_id is not None:
        attributes["pss.request_id"] = request_id
    return _tracer.start_as_current_span(name, attributes=attributes)


def statement(system: str, sql: str) -> AbstractContextManager[Any]:
    """A span for a statement run through the driver directly (``store/prepared.py``),
    which SQLAlchemy's instrumentation does not see."""
    if _tracer is None:
        return _NOTHING
    return span(f"db {sql.split(None, 1)[0]}", **{"db.system": system, "db.statement": sql})


def asgi(app: ASGIApp) -> ASGIApp:
    """The application inside the ASGI instrumentation's request spans, when on."""
    if _provider is None:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app, tracer_provider=_provider, exclude_spans=["receive", "send"]
    )


def name_request(method: str, route: str) -> None:
    """Name the current request span by its route template (known only after routing)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    current.update_name(f"{method} {route}")
    current.set_attribute("http.route", route)
    request_id = correlation.current_id()
    if request_id is not None:
        current.set_attribute("pss.request_id", request_id)
