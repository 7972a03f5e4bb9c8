"""The webhook's own metrics, in a registry each app instance owns: two apps in one
process (tests, replicas) never collide on the global registry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from alert_webhook.store.guard import StoreUnavailable
from alert_webhook.store.recovery import Improvement

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
    delivery_latency: Histogram
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
            "(verified/ineffective/failed/blocked/skipped).",
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


@dataclass(frozen=True)
class _ImprovementFamilies:
    """One scrape's families of the improvement metrics, empty until filled."""

    attempts: CounterMetricFamily
    recoveries: CounterMetricFamily
    action_attempts: CounterMetricFamily
    recovery: SummaryMetricFamily
    last_recovery: GaugeMetricFamily
    resolved: CounterMetricFamily
    failures: CounterMetricFamily
    between_failures: SummaryMetricFamily

    @classmethod
    def empty(cls) -> _ImprovementFamilies:
        return cls(**{field: kind(f"alert_webhook_{name}", doc, labels=labels)
                      for field, (kind, name, labels, doc) in _IMPROVEMENT.items()})  # fmt: skip

    def all(self) -> list[Metric]:
        return [getattr(self, field) for field in _IMPROVEMENT]


_C, _G, _S = CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
# field: (family type, name after alert_webhook_, labels, help)
_IMPROVEMENT: dict[str, tuple[Callable[..., Any], str, list[str], str]] = {
    "attempts": (_C, "remediation_attempts", ["playbook"],
                 "Remediation runs that acted (started; any outcome but a dry run)."),
    "recoveries": (_C, "remediation_recoveries", ["playbook"],
                   "Remediation runs that recovered their alert's problem."),
    "action_attempts": (_C, "remediation_action_attempts", ["playbook", "action", "outcome"],
                        "Remediation steps that ended, by playbook, action and outcome."),
    "recovery": (_S, "recovery_seconds", ["service"],
                 "From the alert's startsAt to the end of the run that recovered it."),
    "last_recovery": (_G, "last_recovery_seconds", ["service"],
                      "Recovery time of the service's most recently finished recovery."),
    "resolved": (_C, "incidents_resolved", ["resolution"],
                 "Closed incidents by resolution (automated, acknowledged, unattended)."),
    "failures": (_C, "service_failures", ["service"],
                 "Failures of a service: its overlapping firing alerts are one failure."),
    "between_failures": (_S, "time_between_failures_seconds", ["service"],
                         "Time between the starts of a service's successive failures."),
}  # fmt: skip


class ImprovementCollector:
    """The plan's improvement metrics — recovery time, recovery success rate,
    automation effectiveness, time between failures — read from the store when
    Prometheus scrapes, so they survive restarts and every replica reports the same
    (aggregate replicas with `max`, not `sum`). All but the latest recovery time
    are counters and summaries, whose `increase()` gives any range's figures.
    Each playbook in `playbooks` has its attempt counters from the first scrape,
    at 0, so its first failure is an increase a rule can see. When the store
    cannot answer, the families are left out of that scrape."""

    def __init__(
        self,
        improvement: Callable[[float], Improvement],
        clock: Callable[[], float],
        playbooks: Iterable[str] = (),
    ) -> None:
        self._improvement, self._clock, self._playbooks = improvement, clock, tuple(playbooks)

    def _filled(self, found: Improvement) -> _ImprovementFamilies:
        f = _ImprovementFamilies.empty()
        seen = {p.playbook: p for p in found.playbooks}
        for name in sorted(set(self._playbooks) | set(seen)):
            book = seen.get(name)
            f.attempts.add_metric([name], book.attempts if book else 0)
            f.recoveries.add_metric([name], book.recoveries if book else 0)
        for a in found.actions:
            f.action_attempts.add_metric([a.playbook, a.action, a.outcome], a.count)
        for r in found.recoveries:
            f.recovery.add_metric([r.service], r.count, r.seconds_total)
            f.last_recovery.add_metric([r.service], r.last_seconds)
        for resolution, count in found.incidents.as_dict().items():
            f.resolved.add_metric([resolution], count)
        for x in found.failures:
            f.failures.add_metric([x.service], x.failures)
            f.between_failures.add_metric([x.service], x.failures - 1, x.between_seconds)
        return f

    def describe(self) -> list[Metric]:
        return _ImprovementFamilies.empty().all()

    def collect(self) -> Iterator[Metric]:
        try:
            found = self._improvement(self._clock())
        except StoreUnavailable as exc:
            logger.warning("improvement metrics left out of this scrape: %s", exc)
            return
        yield from self._filled(found).all()
