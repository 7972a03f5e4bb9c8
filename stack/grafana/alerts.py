"""Alerts and recovery: is the pipeline itself healthy, and how well does it recover?

The webhook's store-read families (backlog, remediation attempts and recoveries,
incidents, recovery time, time between failures) report the same value on every
replica, so they are combined with `max`; its process counters (deliveries,
escalations, runs) with `sum`. Recovery time, success rate, MTBF and automation
effectiveness are over all history (the store's totals): those series appear
with a service's first recovery or failure, so a ratio of `increase()`s over the
graph's range would say nothing about the first one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grafana_foundation_sdk.builders import dashboard

from stack.grafana.panels import (
    AlertLine,
    Panel,
    Query,
    board,
    graph,
    label_variable,
    named_states,
    states,
)

UID = "recovery-stack-alerts"
SERVICE = 'service=~"$service"'
BREAKER = named_states(("closed", "green"), ("open", "red"), ("half-open", "orange"))


def _by(how: str, labels: str, metric: str, selector: str) -> str:
    """`increase()` per graph step of a counter, aggregated over replicas by `how`."""
    return f"{how} by ({labels}) (increase({metric}{{{selector}}}[$__rate_interval]))"


def _all_history(metric: str, by: str, selector: str) -> str:
    """Mean of a summary over all history, per `by`, once it has an observation."""
    return (
        f"max by ({by}) ({metric}_sum{{{selector}}})"
        f" / max by ({by}) ({metric}_count{{{selector}}} > 0)"
    )


def _quantiles(metric: str, selector: str) -> list[Query]:
    """Median and p90 per severity over all history: each replica reports the same
    buckets (`max` over replicas first), then the services' are summed."""
    inner = f"max by (severity, service, le) ({metric}_bucket{{{selector}}})"
    return [
        Query(
            f"histogram_quantile({q}, sum by (severity, le) ({inner}))", f"{{{{severity}}}} {name}"
        )
        for q, name in ((0.5, "median"), (0.9, "p90"))
    ]


def build(params: Mapping[str, Any]) -> dashboard.Dashboard:
    base = params["runbook_base"]
    job = f'job=~"{params["webhook_job"]}"'
    both = f"{job}, {SERVICE}"
    alerting: list[Panel] = [
        graph(
            "Firing alerts by severity",
            "short",
            [
                Query(
                    f'sum by (severity) (ALERTS{{alertstate="firing", {SERVICE}}})', "{{severity}}"
                )
            ],
            "Alerts Prometheus has firing now, by the plan's four levels.",
            stacked=True,
        ),
        graph(
            "Notifications received",
            "reqps",
            [
                Query(
                    "sum by (outcome) (rate(alert_webhook_notifications_received_total"
                    f"{{{job}}}[$__rate_interval]))",
                    "{{outcome}}",
                )
            ],
            "Alertmanager's notifications to the webhook: stored, rejected, or refused "
            "while the store was unavailable.",
        ),
        graph(
            "Watchdog age",
            "s",
            [Query(f"time() - max(alert_webhook_last_watchdog_timestamp_seconds{{{job}}})", "age")],
            "Time since the Watchdog heartbeat last reached the webhook: the whole alert "
            "path (Prometheus, rules, Alertmanager) is alive while this stays low.",
        ),
    ]
    delivery: list[Panel] = [
        graph(
            "Deliveries by channel and outcome",
            "short",
            [
                Query(
                    _by("sum", "channel, outcome", "alert_webhook_deliveries_total", job),
                    "{{channel}} {{outcome}}",
                )
            ],
            "Delivery attempts and what became of them, per channel.",
            stacked=True,
            bars=True,
        ),
        graph(
            "Delivery latency p90",
            "s",
            [
                Query(
                    "histogram_quantile(0.9, sum by (channel, le) (rate("
                    f"alert_webhook_delivery_latency_seconds_bucket{{{job}}}[$__rate_interval])))",
                    "{{channel}}",
                )
            ],
            "From the notification's arrival to the provider accepting the message.",
        ),
        graph(
            "Failed delivery attempts",
            "percentunit",
            [
                Query(
                    f"job_channel:alert_webhook_delivery_attempts_failed:ratio_rate15m{{{job}}}",
                    "{{channel}}",
                )
            ],
            "Share of provider attempts that failed, per channel (15 m rate).",
            AlertLine("WebhookDeliveriesFailing", params["webhook_failed_delivery_ratio"], base),
        ),
        states(
            "Circuit breakers",
            [
                Query(
                    f"max by (provider) (alert_webhook_circuit_breaker_state{{{job}}})",
                    "{{provider}}",
                )
            ],
            "Each provider's breaker: open means the webhook stopped trying it for now.",
            BREAKER,
        ),
        graph(
            "Pending deliveries",
            "short",
            [Query(f"max(alert_webhook_deliveries_pending{{{job}}})", "pending")],
            "Deliveries not yet final (pending or in flight).",
        ),
        graph(
            "Oldest pending delivery",
            "s",
            [Query(f"max(alert_webhook_oldest_pending_delivery_age_seconds{{{job}}})", "age")],
            "Age of the oldest delivery not yet final: past the line it is stuck, not retrying.",
            AlertLine("WebhookDeliveriesStuck", params["webhook_stuck_delivery_age_seconds"], base),
        ),
        graph(
            "Escalations",
            "short",
            [Query(_by("sum", "reason", "alert_webhook_escalations_total", job), "{{reason}}")],
            "Escalations to people: a channel's chain exhausted, a deadline missed, the "
            "Watchdog silent.",
            stacked=True,
            bars=True,
        ),
    ]
    recovery: list[Panel] = [
        graph(
            "Remediation outcomes",
            "short",
            [
                Query(
                    _by("sum", "playbook, outcome", "alert_webhook_remediation_runs_total", job),
                    "{{playbook}} {{outcome}}",
                )
            ],
            "Remediation runs as they end: verified, ineffective, failed, blocked, skipped, "
            "cancelled.",
            stacked=True,
            bars=True,
        ),
        graph(
            "Unrecovered attempts (1 h)",
            "percentunit",
            [
                Query(
                    "job_playbook:alert_webhook_remediation_attempts_unrecovered:ratio_increase1h"
                    f"{{{job}}}",
                    "{{playbook}}",
                )
            ],
            "Share of each playbook's attempts in the last hour that did not recover.",
            AlertLine("RemediationFailing", params["remediation_unrecovered_ratio"], base),
        ),
        graph(
            "Recovery success rate (all history)",
            "percentunit",
            [
                Query(
                    f"max by (playbook) (alert_webhook_remediation_recoveries_total{{{job}}})"
                    " / max by (playbook) "
                    f"(alert_webhook_remediation_attempts_total{{{job}}} > 0)",
                    "{{playbook}}",
                )
            ],
            "Runs that recovered over runs that acted, per playbook.",
        ),
        graph(
            "Last recovery time",
            "s",
            [
                Query(
                    f"max by (service) (alert_webhook_last_recovery_seconds{{{both}}})",
                    "{{service}}",
                )
            ],
            "From the alert's start to the end of the run that recovered it, for each "
            "service's latest recovery.",
        ),
        graph(
            "Mean recovery time (all history)",
            "s",
            [Query(_all_history("alert_webhook_recovery_seconds", "service", both), "{{service}}")],
            "Mean time to recover, per service, over every recovery on record.",
        ),
        graph(
            "Mean time between failures (all history)",
            "s",
            [
                Query(
                    _all_history("alert_webhook_time_between_failures_seconds", "service", both),
                    "{{service}}",
                )
            ],
            "Mean time between the starts of a service's successive failures.",
        ),
        graph(
            "Automation effectiveness (all history)",
            "percentunit",
            [
                Query(
                    "max(alert_webhook_incidents_resolved_total"
                    f'{{{job}, resolution="automated"}})'
                    " / (sum(max by (resolution) "
                    f"(alert_webhook_incidents_resolved_total{{{job}}})) > 0)",
                    "automated",
                )
            ],
            "Closed incidents that automation recovered before anyone acknowledged them, "
            "over all closed incidents.",
        ),
        graph(
            "Time to acknowledge (all history)",
            "s",
            _quantiles("alert_webhook_time_to_acknowledge_seconds", both),
            "MTTA as a distribution: median and p90 per severity, from each incident's "
            "opening to its first acknowledgement (estimated from the histogram's buckets).",
        ),
        graph(
            "Time to resolve (all history)",
            "s",
            _quantiles("alert_webhook_time_to_resolve_seconds", both),
            "MTTR as a distribution: median and p90 per severity, from each incident's "
            "opening to its close, resolved or handled (estimated from the buckets).",
        ),
        graph(
            "Incidents closed by resolution",
            "short",
            [
                Query(
                    _by("max", "resolution", "alert_webhook_incidents_resolved_total", job),
                    "{{resolution}}",
                )
            ],
            "Incidents closed: by automation, after an acknowledgement, or unattended.",
            stacked=True,
            bars=True,
        ),
        graph(
            "Service failures",
            "short",
            [
                Query(
                    _by("max", "service", "alert_webhook_service_failures_total", both),
                    "{{service}}",
                )
            ],
            "Failures of each service (alerts firing together are one failure).",
            stacked=True,
            bars=True,
        ),
    ]
    return board(
        UID,
        "recovery-stack — alerts and recovery",
        "What fires, whether people were told, and how well automation recovers: the "
        "plan's improvement metrics.",
        label_variable("service", "Service", "label_values(service)"),
        [
            ("Alerting", alerting),
            ("Delivery to people", delivery),
            ("Recovery — the plan's improvement metrics", recovery),
        ],
    )
