"""The webhook's own metrics, in a registry each app instance owns: two apps in one
process (tests, replicas) never collide on the global registry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.metrics.latency import BatchHistogram

logger = logging.getLogger("alert_webhook.metrics")

# Actions run from milliseconds (an HTTP hook) to minutes (a restart that waits).
ACTION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True)
class WebhookMetrics:
    registry: CollectorRegistry
    notifications_received: Counter
    alerts_received: Counter
    deliveries: Counter
    delivery_latency: BatchHistogram
    breaker_state: Gauge
    escalations: Counter
    last_watchdog: Gauge
    channel_configured: Gauge
    remediation_runs: Counter
    remediation_action_duration: Histogram

    def count_stored(self, count: int, latency: float, channel: str) -> None:
        """Deliveries written as delivered with their state change (the store is their
        transport): counted like the worker counts the ones it hands over."""
        self.deliveries.labels(channel, channel, "delivered").inc(count)
        self.delivery_latency.labels(channel).observe(max(0.0, latency), count)


def _registered(registry: CollectorRegistry, histogram: BatchHistogram) -> BatchHistogram:
    registry.register(histogram)
    return histogram


def create_metrics(registry: CollectorRegistry | None = None) -> WebhookMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    r = registry
    return WebhookMetrics(
        registry=registry,
        notifications_received=Counter(
            "alert_webhook_notifications_received",
            "Alertmanager notifications received, by outcome.",
            ["outcome"],
            registry=r,
        ),
        alerts_received=Counter(
            "alert_webhook_alerts_received",
            "Alerts received in notifications, by status.",
            ["status"],
            registry=r,
        ),
        deliveries=Counter(
            "alert_webhook_deliveries",
            "Delivery attempts' outcomes (delivered, error, throttled, retry, deferred, skipped,"
            " escalated, failed).",
            ["channel", "provider", "outcome"],
            registry=r,
        ),
        delivery_latency=_registered(
            r,
            BatchHistogram(
                "alert_webhook_delivery_latency_seconds",
                "From receiving the notification to the provider accepting the message.",
                "channel",
                LATENCY_BUCKETS,
            ),
        ),
        breaker_state=Gauge(
            "alert_webhook_circuit_breaker_state",
            "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
            ["provider"],
            registry=r,
        ),
        escalations=Counter(
            "alert_webhook_escalations",
            "Escalations: a channel's chain exhausted, a missed deadline, a silent watchdog.",
            ["reason"],
            registry=r,
        ),
        last_watchdog=Gauge(
            "alert_webhook_last_watchdog_timestamp_seconds",
            "When the Watchdog heartbeat alert last arrived (Unix time).",
            registry=r,
        ),
        channel_configured=Gauge(
            "alert_webhook_channel_configured",
            "1 when a channel has at least one provider with credentials.",
            ["channel"],
            registry=r,
        ),
        remediation_runs=Counter(
            "alert_webhook_remediation_runs",
            "Remediation runs ended by playbook and outcome "
            "(verified/ineffective/failed/blocked/skipped/cancelled).",
            ["playbook", "outcome"],
            registry=r,
        ),
        remediation_action_duration=Histogram(
            "alert_webhook_remediation_action_duration_seconds",
            "How long each remediation action ran, by action and its outcome.",
            ["action", "outcome"],
            buckets=ACTION_BUCKETS,
            registry=r,
        ),
    )


class BacklogCollector:
    """The outbox's backlog, read from the store when Prometheus scrapes: a gauge set
    by the worker lags what it last saw, while this is what the store holds now (the
    same on every replica). When the store cannot answer, the two series are left
    out for that scrape, so `absent()` rules see it."""

    def __init__(
        self, backlog: Callable[[float], tuple[int, float]], clock: Callable[[], float]
    ) -> None:
        self._backlog, self._clock = backlog, clock

    @staticmethod
    def _families(count: float | None = None, age: float | None = None) -> list[Metric]:
        return [
            GaugeMetricFamily(
                "alert_webhook_deliveries_pending",
                "Deliveries not yet in a final state (pending or in flight).",
                value=count,
            ),
            GaugeMetricFamily(
                "alert_webhook_oldest_pending_delivery_age_seconds",
                "Age of the oldest delivery not yet final; 0 when none.",
                value=age,
            ),
        ]

    def describe(self) -> list[Metric]:
        return self._families()

    def collect(self) -> Iterator[Metric]:
        try:
            count, age = self._backlog(self._clock())
        except StoreUnavailable as exc:
            logger.warning("backlog gauges left out of this scrape: %s", exc)
            return
        yield from self._families(count, age)


_C, _G, _S = CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
