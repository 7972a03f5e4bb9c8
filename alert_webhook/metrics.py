"""The webhook's own metrics, in a registry each app instance owns: two apps in one
process (tests, replicas) never collide on the global registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True)
class WebhookMetrics:
    registry: CollectorRegistry
    notifications_received: Counter
    alerts_received: Counter
    deliveries: Counter
    delivery_latency: Histogram
    deliveries_pending: Gauge
    oldest_pending_age: Gauge
    breaker_state: Gauge
    escalations: Counter
    last_watchdog: Gauge
    channel_configured: Gauge

    def count_stored(self, count: int, latency: float, channel: str = "dashboard") -> None:
        """Deliveries written as delivered with their state change (the store is their
        transport): counted like the worker counts the ones it hands over."""
        self.deliveries.labels(channel, channel, "delivered").inc(count)
        observe = self.delivery_latency.labels(channel).observe
        for _ in range(count):
            observe(max(0.0, latency))


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
            "Delivery attempts' outcomes (delivered, retry, deferred, skipped, escalated, failed).",
            ["channel", "provider", "outcome"],
            registry=r,
        ),
        delivery_latency=Histogram(
            "alert_webhook_delivery_latency_seconds",
            "From receiving the notification to the provider accepting the message.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        deliveries_pending=Gauge(
            "alert_webhook_deliveries_pending",
            "Deliveries not yet in a final state (pending or in flight).",
            registry=r,
        ),
        oldest_pending_age=Gauge(
            "alert_webhook_oldest_pending_delivery_age_seconds",
            "Age of the oldest delivery not yet final; 0 when none.",
            registry=r,
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
    )
