"""The webhook's own metrics, in a registry each app instance owns (STYLE 8)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class WebhookMetrics:
    registry: CollectorRegistry
    notifications_received: Counter
    alerts_received: Counter


def create_metrics(registry: CollectorRegistry | None = None) -> WebhookMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    return WebhookMetrics(
        registry=registry,
        notifications_received=Counter(
            "alert_webhook_notifications_received",
            "Alertmanager notifications received, by outcome.",
            ["outcome"],
            registry=registry,
        ),
        alerts_received=Counter(
            "alert_webhook_alerts_received",
            "Alerts received in notifications, by status.",
            ["status"],
            registry=registry,
        ),
    )
