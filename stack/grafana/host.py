"""Host overview: the recovery plan's system health checks, per host, with the alerts' lines.

Reads node_exporter's names (our system exporter or node_exporter itself) and the
host recording rules, so it works with either exporter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grafana_foundation_sdk.builders import dashboard

from stack.grafana.panels import AlertLine, Panel, Query, board, graph, label_variable, states

UID = "recovery-stack-host"


def build(params: Mapping[str, Any]) -> dashboard.Dashboard:
    jobs = params["host_jobs"]
    on = f'job=~"{jobs}", instance=~"$instance"'
    base = params["runbook_base"]
    instance = label_variable(
        "instance", "Host", f'label_values(node_cpu_seconds_total{{job=~"{jobs}"}}, instance)'
    )
    health: list[Panel] = [
        graph(
            "CPU busy",
            "percentunit",
            [Query(f"instance:node_cpu_busy:ratio_rate1m{{{on}}}", "{{instance}}")],
            "Share of CPU time neither idle nor waiting for I/O (1 m rate).",
            AlertLine("HostCpuHigh", params["cpu_busy_threshold"], base),
        ),
        graph(
            "Memory used",
            "percentunit",
            [Query(f"instance:node_memory_used:ratio{{{on}}}", "{{instance}}")],
            "Memory in use, measured from MemAvailable.",
            AlertLine("HostMemoryHigh", params["memory_used_threshold"], base),
        ),
        graph(
            "Filesystem free",
            "percentunit",
            [
                Query(
                    f"instance_mountpoint:node_filesystem_avail:ratio{{{on}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            "Space left to non-root users on the writable filesystems the rules watch.",
            AlertLine("HostDiskSpaceLow", params["disk_free_threshold"], base, above=False),
        ),
    ]
    activity: list[Panel] = [
        graph(
            "Load average",
            "short",
            [Query(f"node_load{n}{{{on}}}", f"{{{{instance}}}} {n} m") for n in (1, 5, 15)],
            "Runnable and uninterruptible tasks, averaged over 1, 5 and 15 minutes.",
        ),
        graph(
            "Disk throughput",
            "Bps",
            [
                Query(
                    f"sum by (instance, device) (rate(node_disk_{way}_bytes_total{{{on}}}"
                    "[$__rate_interval]))",
                    f"{{{{instance}}}} {{{{device}}}} {way}",
                )
                for way in ("read", "written")
            ],
            "Bytes read from and written to each block device.",
        ),
        graph(
            "Network throughput",
            "Bps",
            [
                Query(
                    f"sum by (instance, device) (rate(node_network_{way}_bytes_total{{{on}}}"
                    "[$__rate_interval]))",
                    f"{{{{instance}}}} {{{{device}}}} {way}",
                )
                for way in ("receive", "transmit")
            ],
            "Bytes received and sent on each network interface (loopback excluded).",
        ),
    ]
    exporter: list[Panel] = [
        graph(
            "Swap used",
            "bytes",
            [
                Query(
                    f"node_memory_SwapTotal_bytes{{{on}}} - node_memory_SwapFree_bytes{{{on}}}",
                    "{{instance}}",
                )
            ],
            "Swap in use; a host that swaps is short of memory before the ratio says so.",
        ),
        graph(
            "Uptime",
            "s",
            [Query(f"time() - node_boot_time_seconds{{{on}}}", "{{instance}}")],
            "Time since the host booted: a drop to zero is a reboot.",
        ),
        states(
            "Exporter scraped",
            [Query(f"up{{{on}}}", "{{job}} {{instance}}")],
            "Whether Prometheus reached the host's exporter (TargetDown fires when not).",
        ),
        states(
            "Collectors succeeding",
            [Query(f"node_scrape_collector_success{{{on}}}", "{{collector}}")],
            "Each collector of the last scrape: down means its source failed or hung.",
        ),
    ]
    return board(
        UID,
        "recovery-stack — host overview",
        "The plan's system health checks (CPU, memory, disk) per host, with the alerts' "
        "thresholds as dashed lines.",
        instance,
        [
            ("Health checks — the alerts' thresholds dashed", health),
            ("Activity", activity),
            ("Memory, uptime and the exporter itself", exporter),
        ],
    )
