"""The probe exporter: checks from a YAML file, published in blackbox_exporter's shapes.

Checks run in the background (see scheduler.py); a scrape only reads their last
results, so it never waits on a target.

    python -m exporters.probe --listen 127.0.0.1:9102 --config exporters/probes.yml
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.categories import Category
from exporters.checks import default_runners
from exporters.checks.base import Boundaries
from exporters.probe_config import load_probe_file
from exporters.scheduler import Scheduler
from exporters.serve import parse_listen, serve_forever
from toolkit.config import ConfigError, exit_on_config_error

DEFAULT_PROBE_FILE = Path(__file__).with_name("probes.yml")

# Help text for what checks report; names follow blackbox_exporter where it has one.
SAMPLE_HELP = {
    "probe_http_status_code": "Response HTTP status code.",
    "probe_ssl_earliest_cert_expiry": "Unix time the server's certificate expires.",
    "probe_http_ratelimit_limit": "Requests the probed API allows in its rate-limit window.",
    "probe_http_ratelimit_remaining": "Requests left in the probed API's rate-limit window.",
    "probe_http_ratelimit_reset_seconds": "Seconds until the probed API's rate limit resets.",
    "probe_http_retry_after_seconds": "Seconds the probed API asked to wait (Retry-After).",
    "probe_http_ratelimit_header_invalid": "1 for each rate-limit header that could not be read.",
    "probe_tcp_connect_seconds": "Seconds the TCP connect took.",
    "probe_dns_lookup_time_seconds": "Seconds the DNS lookup took.",
    "probe_dns_answer_rrs": "Number of addresses the name resolved to.",
    "probe_service_processes": "Processes found for a service check.",
    "task_queue_depth": "Tasks waiting in the queue.",
    "db_pool_connections": "Database connections by state.",
    "db_pool_max_connections": "Maximum connections the database or pool allows.",
    "backup_last_success_timestamp_seconds": "Unix time of the newest backup.",
    "backup_size_bytes": "Size of the newest backup in bytes.",
    "backup_checksum_ok": "1 when the newest backup's checksum verifies.",
    "backup_interval_seconds": "The configured backup interval.",
    "backup_files": "Number of backup files found.",
}


class ProbeCollector(Collector):
    """Fresh families on each scrape from the scheduler's last results."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        # `service` and `instance` say what a probe is about; the probes job's
        # honor_labels keeps them over the exporter's own address.
        base = ["probe", "kind", "service", "instance", "host"]
        success = GaugeMetricFamily("probe_success", "Whether the last run succeeded.", labels=base)
        duration = GaugeMetricFamily(
            "probe_duration_seconds", "How long the last run took.", labels=base
        )
        last_run = GaugeMetricFamily(
            "probe_last_run_timestamp_seconds", "Unix time the last run finished.", labels=base
        )
        current = GaugeMetricFamily(
            "probe_failure_category",
            "1 for the category of the current failure, else 0.",
            labels=[*base, "category"],
        )
        failures = CounterMetricFamily(
            "probe_failures", "Failed runs by category.", labels=[*base, "category"]
        )
        # How stale a probe's series may be however often Prometheus scrapes:
        # remediation waits this long (and the scrape) before judging a fix.
        interval = GaugeMetricFamily(
            "probe_interval_seconds", "How often the probe runs, in seconds.", labels=base
        )
        extra: dict[str, GaugeMetricFamily] = {}
        by_name: dict[str, list[tuple[list[str], list[str], float]]] = defaultdict(list)
        for probe, result, counts in self.scheduler.snapshot():
            key = [probe.name, probe.kind, probe.service, probe.instance, probe.check.host or ""]
            interval.add_metric(key, probe.interval)
            for category in Category:
                failures.add_metric([*key, category.value], counts[category])
            if result is None:
                continue  # not run yet: absent rather than a made-up value
            success.add_metric(key, 1 if result.success else 0)
            duration.add_metric(key, result.duration)
            last_run.add_metric(key, result.finished_at)
            for category in Category:
                current.add_metric([*key, category.value], 1 if result.category == category else 0)
            for sample in result.samples:
                names = [*base, *(k for k, _ in sample.labels)]
                by_name[sample.name].append(
                    (names, [*key, *(v for _, v in sample.labels)], sample.value)
                )
        for name, rows in by_name.items():
            family = GaugeMetricFamily(name, SAMPLE_HELP.get(name, name), labels=rows[0][0])
            for names, values, value in rows:
                if names == rows[0][0]:
                    family.add_metric(values, value)
            extra[name] = family
        yield from (success, duration, last_run, current, failures, interval)
        yield from extra.values()


def build(config: Path, env: dict[str, str]) -> tuple[CollectorRegistry, Scheduler]:
    probes = load_probe_file(config, env)
    scheduler = Scheduler(probes, default_runners(), Boundaries(env=env))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProbeCollector(scheduler))
    return registry, scheduler


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m exporters.probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--listen", type=parse_listen, default=parse_listen("127.0.0.1:9102"))
    parser.add_argument("--config", type=Path, default=DEFAULT_PROBE_FILE, help="probe file (YAML)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        registry, scheduler = build(args.config, dict(os.environ))
    except ConfigError as exc:
        exit_on_config_error(exc)
    stop = threading.Event()
    threading.Thread(
        target=scheduler.run_forever, args=(stop,), name="probe-scheduler", daemon=True
    ).start()
    serve_forever(registry, args.listen, on_stop=stop.set)


if __name__ == "__main__":
    main()
