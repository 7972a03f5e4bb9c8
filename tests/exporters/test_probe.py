"""The probe exporter: blackbox_exporter shapes, and the real process end to end."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from support.procs import free_port, python_module, running, wait_until

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries
from exporters.probe import ProbeCollector
from exporters.probe_config import Probe
from exporters.scheduler import Scheduler

CATEGORIES = {c.value for c in Category}


class FakeCheck:
    def __init__(self, name: str, service: str | None = None, host: str | None = None) -> None:
        self.name, self.service, self.host = name, service, host

    def instance(self) -> str:
        return f"target-of-{self.name}"


def fake_probe(name: str, kind: str, service: str | None = None, host: str | None = None) -> Probe:
    check = FakeCheck(name, service, host)
    return Probe(check=check, kind=kind, interval=30, timeout=5)  # type: ignore[arg-type]


def series(name: str, kind: str, service: str | None = None, **extra: str) -> dict[str, str]:
    """The labels every series of a probe carries, plus `extra`."""
    return {
        "probe": name,
        "kind": kind,
        "service": service or name,
        "instance": f"target-of-{name}",
        "host": "",
        **extra,
    }


def registry_for(clock, runners, probes) -> tuple[CollectorRegistry, Scheduler]:
    ctx = Boundaries(monotonic=clock.monotonic, wall=clock.wall)
    scheduler = Scheduler(probes, runners, ctx, spawn=lambda target: target())
    registry = CollectorRegistry()
    registry.register(ProbeCollector(scheduler))
    return registry, scheduler


def test_families_follow_blackbox_shapes_with_probe_and_kind(clock):
    def ok(check, report, ctx):
        report.add("probe_http_status_code", 200)

    def denied(check, report, ctx):
        report.add("probe_http_status_code", 403)
        raise ProbeFailure(Category.AUTHENTICATION, "HTTP status 403")

    def queue(check, report, ctx):
        report.add("task_queue_depth", 12, queue=check.name)

    registry, scheduler = registry_for(
        clock,
        {"http": ok, "http_denied": denied, "queue": queue},
        [
            fake_probe("web", "http", service="shop"),
            fake_probe("admin", "http_denied"),
            fake_probe("jobs", "queue"),
        ],
    )
    scheduler.tick()
    # Each series names the service the probe watches and the probe's target as
    # `instance` (Prometheus keeps them: honor_labels on the probes job).
    web = series("web", "http", service="shop")
    admin = series("admin", "http_denied")
    assert registry.get_sample_value("probe_success", web) == 1
    assert registry.get_sample_value("probe_success", admin) == 0
    assert registry.get_sample_value("probe_http_status_code", admin) == 403
    assert registry.get_sample_value("probe_duration_seconds", web) == 0
    assert registry.get_sample_value("probe_last_run_timestamp_seconds", web) == clock.wall()
    for category in CATEGORIES:
        want = 1 if category == "authentication" else 0
        assert (
            registry.get_sample_value("probe_failure_category", {**admin, "category": category})
            == want
        )
        assert (
            registry.get_sample_value("probe_failure_category", {**web, "category": category}) == 0
        )
        assert (
            registry.get_sample_value("probe_failures_total", {**admin, "category": category})
            == want
        )
    jobs = series("jobs", "queue", queue="jobs")
    assert registry.get_sample_value("task_queue_depth", jobs) == 12


def test_a_probe_of_a_fleet_host_names_the_host(clock):
    registry, scheduler = registry_for(
        clock, {"http": lambda *a: None}, [fake_probe("demo-host-2", "http", "demo", "host-2")]
    )
    scheduler.tick()
    labels = series("demo-host-2", "http", service="demo", host="host-2")
    assert registry.get_sample_value("probe_success", labels) == 1


def test_a_probe_that_has_not_run_yet_has_no_success_series(clock):
    registry, _ = registry_for(clock, {"http": lambda *a: None}, [fake_probe("web", "http")])
    assert registry.get_sample_value("probe_success", series("web", "http")) is None
    # but its failure counters exist from the start, so rate() sees the first failure
    labels = series("web", "http", category="timeout")
    assert registry.get_sample_value("probe_failures_total", labels) == 0
    # and its interval, which tells remediation how stale its series may be
    assert registry.get_sample_value("probe_interval_seconds", series("web", "http")) == 30


def test_scrape_reads_results_and_never_runs_checks(clock):
    calls = []
    registry, scheduler = registry_for(
        clock, {"http": lambda *a: calls.append(1)}, [fake_probe("web", "http")]
    )
    scheduler.tick()
    for _ in range(5):
        registry.get_sample_value("probe_success", series("web", "http"))
    assert calls == [1]


def write_probe_file(path, target, closed_port) -> None:
    path.write_text(
        f"""
checks:
  - {{name: up, kind: http, service: shop, url: "{target.url("/ok")}",
     expect_json: {{field: status, equals: ok}}}}
  - {{name: denied, kind: http, url: "{target.url("/401")}"}}
  - {{name: bad-json, kind: http, url: "{target.url("/badjson")}", expect_json: {{field: status}}}}
  - {{name: hanging, kind: http, url: "{target.url("/slow")}", timeout: 500ms}}
  - {{name: closed, kind: tcp, address: "127.0.0.1:{closed_port}"}}
  - {{name: port, kind: tcp, address: "127.0.0.1:{target.port}"}}
  - {{name: nowhere, kind: dns, query: no-such-host.invalid}}
  - {{name: depth, kind: queue, http_json: {{url: "{target.url("/ok")}", field: queue.depth}}}}
"""
    )


@pytest.mark.integration
def test_exporter_process_end_to_end(tmp_path, http_target, closed_port):
    probes = tmp_path / "probes.yml"
    write_probe_file(probes, http_target, closed_port)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    argv = python_module(
        "exporters.probe", "--listen", f"127.0.0.1:{port}", "--config", str(probes)
    )

    def samples() -> dict:
        text = requests.get(url, timeout=5).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def labelled(values: dict, metric: str, name: str) -> dict[tuple[str, ...], float]:
        """The series of `metric` for probe `name`, keyed by their labels."""
        return {
            labels: value
            for (found, labels), value in values.items()
            if found == metric and dict(labels)["probe"] == name
        }

    def success(values: dict, name: str, kind: str) -> float | None:
        [(labels, value)] = labelled(values, "probe_success", name).items() or [((), None)]
        assert not labels or dict(labels)["kind"] == kind
        return value

    def category(values: dict, name: str, kind: str) -> str | None:
        hits = [
            dict(labels)["category"]
            for (metric, labels), value in values.items()
            if metric == "probe_failure_category" and dict(labels)["probe"] == name and value == 1
        ]
        return hits[0] if hits else None

    with running("probe-exporter", argv, tmp_path, ready_url=url):
        wait_until(
            lambda: success(samples(), "hanging", "http") is not None, 20, "every probe's first run"
        )
        started = time.monotonic()
        values = samples()
        assert time.monotonic() - started < 1  # a scrape never waits on the slow target
    assert success(values, "up", "http") == 1
    assert success(values, "port", "tcp") == 1
    assert success(values, "depth", "queue") == 1
    depth_url = http_target.url("/ok")
    assert labelled(values, "task_queue_depth", "depth") == {
        (
            ("host", ""),
            ("instance", depth_url),
            ("kind", "queue"),
            ("probe", "depth"),
            ("queue", "depth"),
            ("service", "depth"),
        ): 7
    }
    # The probed service and target as published: the service named in the file
    # (else the check's name), the URL or address the check looks at.
    [up_labels] = labelled(values, "probe_success", "up")
    assert dict(up_labels)["service"] == "shop"
    assert dict(up_labels)["instance"] == http_target.url("/ok")
    [port_labels] = labelled(values, "probe_success", "port")
    assert dict(port_labels)["service"] == "port"
    assert dict(port_labels)["instance"] == f"127.0.0.1:{http_target.port}"
    assert category(values, "denied", "http") == "authentication"
    assert category(values, "bad-json", "http") == "data_integrity"
    assert category(values, "hanging", "http") == "timeout"
    assert category(values, "closed", "tcp") == "connection"
    assert category(values, "nowhere", "dns") == "connection"
    assert category(values, "up", "http") is None
