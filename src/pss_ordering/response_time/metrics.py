"""The response-time figures (and delivery health) as Prometheus metrics at ``/metrics``.

Read from the database at each scrape, so every process reports the same
numbers whichever one is scraped. Counters are since the beginning; the
response-time quantiles cover the last ``PSS_METRICS_WINDOW``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..clock import Clock
from ..domain.identity import Caller, Role
from ..domain.timestamps import format_instant
from ..service.unit_of_work import Database
from .figures import FiguresService

MONITOR = Caller("pss-metrics", frozenset({Role.GOVERNANCE}))


class ResponseTimeCollector(Collector):
    def __init__(
        self, figures: FiguresService, database: Database, clock: Clock, window: timedelta
    ) -> None:
        self._figures = figures
        self._db = database
        self._clock = clock
        self._window = window

    def collect(self) -> Iterator[Metric]:
        totals = {
            "orders_received": ("Orders submitted to the provider", "received"),
            "acknowledged_on_time": ("Orders the provider acknowledged in time", "on_time"),
            "acknowledged_late": ("Orders the provider acknowledged after the deadline", "late"),
            "response_deadline_breaches": ("Deadlines that passed unanswered", "breaches"),
        }
        families = {
            name: CounterMetricFamily(f"pss_provider_{name}", text, labels=["provider"])
            for name, (text, _) in totals.items()
        }
        open_past = GaugeMetricFamily(
            "pss_provider_open_past_deadline",
            "Orders not yet acknowledged by the provider and past their deadline",
            labels=["provider"],
        )
        quantiles = GaugeMetricFamily(
            "pss_provider_response_time_seconds",
            "Provider response time over the metrics window",
            labels=["provider", "quantile"],
        )
        for figures in self._figures.figures(MONITOR, None, None, None):
            for name, (_, attribute) in totals.items():
                families[name].add_metric([figures.provider_id], getattr(figures, attribute))
            open_past.add_metric([figures.provider_id], figures.open_past_deadline)
        start = format_instant(self._clock.now() - self._window)
        for figures in self._figures.figures(MONITOR, None, start, None):
            for label, value in (("0.5", figures.p50), ("0.95", figures.p95), ("1", figures.max)):
                if value is not None:
                    quantiles.add_metric([figures.provider_id, label], value)
        yield from families.values()
        yield open_past
        yield quantiles
        with self._db.reading() as uow:
            states, pending = uow.response_times.delivery_gauges()
        callbacks = GaugeMetricFamily(
            "pss_callbacks", "Registered callbacks by delivery state", labels=["state"]
        )
        for state in ("active", "halted", "disabled"):
            callbacks.add_metric([state], states.get(state, 0))
        yield callbacks
        yield GaugeMetricFamily(
            "pss_deliveries_pending", "Deliveries waiting to be sent", value=pending
        )


def registry_for(collector: ResponseTimeCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
