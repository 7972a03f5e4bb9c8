"""Services and probes: availability, latency, errors, queues, pools, backups, failures.

The `service` variable is the probes' `service` label. The applications'
request metrics carry the scrape `job` instead, and each application's job is
named after its service (demo, webhook), so the same variable filters both.
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

UID = "recovery-stack-services"
SERVICE = 'service=~"$service"'
JOB = 'job=~"$service"'


def build(params: Mapping[str, Any]) -> dashboard.Dashboard:
    base = params["runbook_base"]
    quantile = round(float(params["api_latency_quantile"]) * 100)
    availability: list[Panel] = [
        states(
            "Probes succeeding",
            [Query(f"probe_success{{{SERVICE}}}", "{{probe}}")],
            "Each probe's last run; ServiceUnavailable and NetworkProbeFailing read it.",
        ),
        states(
            "Scrape targets up",
            [Query(f"up{{{JOB}}}", "{{job}} {{instance}}")],
            "Whether Prometheus reached each target; TargetDown reads it.",
        ),
        graph(
            "Probe duration",
            "s",
            [Query(f"probe_duration_seconds{{{SERVICE}}}", "{{probe}}")],
            "How long each probe's last run took; a run past its deadline is a timeout.",
        ),
    ]
    requests: list[Panel] = [
        graph(
            f"Slowest route p{quantile} (alert > {params['api_latency_threshold_seconds']} s)",
            "s",
            [
                Query(
                    f"job_handler:http_request_duration_seconds:quantile_rate5m{{{JOB}}}",
                    "{{job}} {{handler}}",
                )
            ],
            "Each route's response time at the quantile ApiResponseTimeHigh judges (5 m rate).",
            AlertLine("ApiResponseTimeHigh", params["api_latency_threshold_seconds"], base),
        ),
        graph(
            "Error ratio",
            "percentunit",
            [Query(f"job:http_request_errors:ratio_rate5m{{{JOB}}}", "{{job}}")],
            "Share of requests answered 5xx or raising (5 m rate).",
            AlertLine("ErrorRateHigh", params["error_rate_threshold"], base),
        ),
        graph(
            "Request rate",
            "reqps",
            [
                Query(
                    "sum by (job, handler) (rate(http_request_duration_seconds_count"
                    f"{{{JOB}}}[$__rate_interval]))",
                    "{{job}} {{handler}}",
                )
            ],
            "Requests per second by route.",
        ),
    ]
    capacity: list[Panel] = [
        graph(
            "Task queue depth",
            "short",
            [
                Query(
                    f"task_queue_depth{{{JOB}}} or task_queue_depth{{{SERVICE}}}",
                    "{{job}} {{queue}}",
                )
            ],
            "Tasks waiting, from the applications and from queue probes.",
            AlertLine("TaskQueueDepthHigh", params["task_queue_depth_threshold"], base),
        ),
        graph(
            "Database pool in use",
            "percentunit",
            [Query(f"instance_probe:db_pool_connections_in_use:ratio{{{SERVICE}}}", "{{probe}}")],
            "Connections in use over the pool's maximum, from the db_pool probes.",
            AlertLine("DatabasePoolSaturated", params["db_pool_saturation_threshold"], base),
        ),
        graph(
            "Certificate expiry",
            "s",
            [Query(f"probe_ssl_earliest_cert_expiry{{{SERVICE}}} - time()", "{{probe}}")],
            "Time left before the first certificate of each HTTPS probe expires.",
        ),
    ]
    backups: list[Panel] = [
        graph(
            "Backup age",
            "s",
            [
                Query(f"instance_probe:backup_age:seconds{{{SERVICE}}}", "{{probe}}"),
                Query(
                    f"backup_interval_seconds{{{SERVICE}}} * {params['backup_max_age_intervals']}",
                    "{{probe}} BackupTooOld at",
                ),
            ],
            "Age of each newest backup, and the age at which BackupTooOld fires "
            "(its interval times the rule's factor).",
        ),
        states(
            "Backup checksum verified",
            [Query(f"backup_checksum_ok{{{SERVICE}}}", "{{probe}}")],
            "Whether each newest backup's checksum verifies; BackupUnverified reads it.",
            named_states(("unverified", "red"), ("verified", "green")),
        ),
        graph(
            "Failures by category",
            "short",
            [
                Query(
                    "sum by (category) (increase(probe_failures_total"
                    f"{{{SERVICE}}}[$__rate_interval]))",
                    "{{category}}",
                )
            ],
            "Probe failures in the plan's six error categories.",
            stacked=True,
            bars=True,
        ),
    ]
    return board(
        UID,
        "recovery-stack — services and probes",
        "Is each service up, fast and error-free; are its queues, pools, backups and "
        "certificates healthy; which kinds of failure happen.",
        label_variable("service", "Service", "label_values(probe_success, service)"),
        [
            ("Availability", availability),
            ("Requests", requests),
            ("Queues, pools and certificates", capacity),
            ("Backups and failures", backups),
        ],
    )
