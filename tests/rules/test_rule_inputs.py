"""The metric names the rules read are the names the real exporters publish.

Each input of rules/*.yml is matched to its source, and each source is scraped
for real: node_exporter and our system exporter for host metrics, our probe
exporter with a probe of every kind, the instrumented demo app, the webhook's
registry, and Alertmanager and Prometheus themselves.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from ruleset import inputs_by_file
from support.loopback import Replying, serving
from support.procs import find_binary, free_port, python_module, running, wait_until

Series = dict[str, list[dict[str, str]]]  # metric name → label sets of its samples

# Where each input comes from, by name.
SOURCES: dict[str, Callable[[str], bool]] = {
    "host": lambda n: n.startswith("node_"),
    "process": lambda n: n.startswith("namedprocess_namegroup_"),
    "probe": lambda n: n.startswith(("probe_", "db_pool_", "backup_")) or n == "task_queue_depth",
    "app": lambda n: n.startswith("http_") or n == "task_queue_depth",
    "webhook": lambda n: n.startswith("alert_webhook_"),
    "alertmanager": lambda n: n.startswith("alertmanager_"),
    "prometheus": lambda n: n.startswith("prometheus_") or n == "up",
    "drill schedule": lambda n: n.startswith("stack_drill_"),
}
# Inputs a rule reads before their exporter publishes them: name → why (none now).
PENDING: dict[str, str] = {}


def all_inputs() -> set[str]:
    return set().union(*inputs_by_file().values())


def inputs_of(source: str) -> set[str]:
    return {name for name in all_inputs() if SOURCES[source](name)}


def parse(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        # A labelled counter with no child yet still declares its name.
        declared = f"{family.name}_total" if family.type == "counter" else family.name
        series.setdefault(declared, [])
        for sample in family.samples:
            series.setdefault(sample.name, []).append(dict(sample.labels))
    return series


def scrape(url: str) -> Series:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return parse(response.text)


def assert_published(wanted: set[str], series: Series, who: str) -> None:
    missing = sorted(wanted - set(series))
    assert missing == [], f"{who} does not publish {missing}"


def test_every_rule_input_has_a_source_checked_below() -> None:
    unsourced = {name for name in all_inputs() if not any(f(name) for f in SOURCES.values())}
    assert unsourced == set()
    assert inputs_of("host") >= {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes"}


def _host_shapes(series: Series, who: str) -> None:
    modes = {labels["mode"] for labels in series["node_cpu_seconds_total"]}
    assert {"idle", "iowait", "user"} <= modes, f"{who}: CPU modes {modes}"
    for name in ("node_filesystem_avail_bytes", "node_filesystem_size_bytes"):
        for labels in series[name]:
            assert {"device", "fstype", "mountpoint"} <= set(labels), f"{who}: {name} {labels}"
    mounts = {labels["mountpoint"] for labels in series["node_filesystem_avail_bytes"]}
    assert "/" in mounts, f"{who}: no root filesystem among {mounts}"


@pytest.mark.integration
def test_host_rules_read_node_exporter_names(tmp_path: Path) -> None:
    port = free_port()
    argv = [find_binary("NODE_EXPORTER_BIN"), f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}/metrics"
    with running("node_exporter", argv, tmp_path, ready_url=url):
        series = scrape(url)
    assert_published(inputs_of("host"), series, "node_exporter")
    _host_shapes(series, "node_exporter")


@pytest.mark.integration
def test_host_rules_read_the_system_exporters_names(tmp_path: Path) -> None:
    port = free_port()
    argv = python_module("exporters.system", "--listen", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/metrics"
    with running("system-exporter", argv, tmp_path, ready_url=url):
        series = scrape(url)
    assert_published(inputs_of("host"), series, "exporters.system")
    _host_shapes(series, "exporters.system")


@pytest.mark.integration
def test_process_rules_read_the_system_exporters_group_names(tmp_path: Path) -> None:
    """A configured process group (this test's own process) publishes what the
    process alerts read, with the `groupname` and `memtype` labels they match on."""
    pidfile = tmp_path / "self.pid"
    pidfile.write_text(str(os.getpid()))
    config = tmp_path / "system.yml"
    groups = [{"name": "tests", "pidfile": str(pidfile)}]
    config.write_text(yaml.safe_dump({"collectors": ["processes"], "process_groups": groups}))
    port = free_port()
    argv = python_module(
        "exporters.system", "--listen", f"127.0.0.1:{port}", "--config", str(config)
    )
    url = f"http://127.0.0.1:{port}/metrics"
    with running("system-exporter", argv, tmp_path, ready_url=url):
        series = scrape(url)
    wanted = inputs_of("process")
    assert wanted >= {"namedprocess_namegroup_cpu_seconds_total"}
    assert_published(wanted, series, "exporters.system")
    memory = series["namedprocess_namegroup_memory_bytes"]
    assert {"groupname": "tests", "memtype": "resident"} in memory


class _ThrottledApi(Replying):
    """An API out of budget: 429, its rate-limit headers and when to retry."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(429)
        for name, value in (
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "30"),
            ("Retry-After", "30"),
        ):
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _probe_file(tmp_path: Path, port: int, api_port: int) -> Path:
    """A probe of every kind, each against something real in `tmp_path` or on loopback;
    an http one against a throttled API (`api_port`) for the rate-limit series."""
    spool = tmp_path / "spool"
    spool.mkdir()
    for index in range(3):
        (spool / f"task-{index}").write_text("task")
    backups = tmp_path / "backups"
    backups.mkdir()
    backup = backups / "app-1.tar.gz"
    backup.write_bytes(b"backup")
    digest = hashlib.sha256(b"backup").hexdigest()
    (backups / "app-1.tar.gz.sha256").write_text(f"{digest}  app-1.tar.gz\n")
    database = tmp_path / "app.sqlite3"
    sqlite3.connect(database).close()
    pidfile = tmp_path / "self.pid"
    pidfile.write_text(str(os.getpid()))
    checks = [
        {"name": "self-http", "kind": "http", "url": f"http://127.0.0.1:{port}/metrics"},
        {"name": "self-tcp", "kind": "tcp", "address": f"127.0.0.1:{port}"},
        {"name": "throttled", "kind": "http", "url": f"http://127.0.0.1:{api_port}/"},
        {"name": "resolver", "kind": "dns", "query": "localhost"},
        {"name": "tests", "kind": "service", "pidfile": str(pidfile)},
        {"name": "jobs", "kind": "queue", "directory": {"path": str(spool)}},
        {
            "name": "db",
            "kind": "db_pool",
            "dsn": f"sqlite:///{database}",
            "queries": {"in_use": "SELECT 3", "idle": "SELECT 1", "max": "SELECT 10"},
        },
        {"name": "nightly", "kind": "backup", "directory": str(backups), "pattern": "*.tar.gz"},
        {"name": "orders-data", "kind": "integrity", "sqlite": str(database)},
    ]
    path = tmp_path / "probes.yml"
    path.write_text(yaml.safe_dump({"checks": checks}))
    return path


@pytest.mark.integration
def test_probe_and_backup_rules_read_the_probe_exporters_names(tmp_path: Path) -> None:
    port = free_port()
    argv = python_module("exporters.probe", "--listen", f"127.0.0.1:{port}", "--config")
    url = f"http://127.0.0.1:{port}/metrics"
    with (
        serving(_ThrottledApi) as api_port,
        running(
            "probe-exporter",
            [*argv, str(_probe_file(tmp_path, port, api_port))],
            tmp_path,
            ready_url=url,
        ),
    ):
        wait_until(
            lambda: (
                len(scrape(url).get("probe_success", [])) == 9
                and "backup_checksum_ok" in scrape(url)
            ),
            30,
            "a first run of every probe",
        )
        series = scrape(url)
    assert_published(inputs_of("probe"), series, "exporters.probe")
    # The rules join probe metrics on (job, instance, probe): every series carries `probe`.
    for name in inputs_of("probe"):
        assert all("probe" in labels for labels in series[name]), name
    kinds = {labels["kind"] for labels in series["probe_success"]}
    assert kinds == {"http", "tcp", "dns", "service", "queue", "db_pool", "backup", "integrity"}
    states = {labels["state"] for labels in series["db_pool_connections"]}
    assert {"in_use", "idle"} <= states


def test_application_rules_read_the_instrumented_apps_names() -> None:
    from demo.app import create_app

    app = create_app(registry=CollectorRegistry())
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    series = parse(client.get("/metrics").get_data(as_text=True))
    assert_published(inputs_of("app"), series, "exporters.instrumentation (demo app)")
    buckets = {labels["le"] for labels in series["http_request_duration_seconds_bucket"]}
    assert "5.0" in buckets, "ApiResponseTimeHigh needs a bucket at exactly 5 s"
    counted = series["http_request_duration_seconds_count"]
    assert {"handler", "method", "status"} <= set(counted[0])
    assert any(labels["status"] == "200" for labels in counted)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING[n]))
        if n in PENDING
        else n
        for n in sorted(inputs_of("webhook"))
    ],
)
def test_meta_rules_read_the_webhooks_names(name: str, tmp_path: Path) -> None:
    from alert_webhook import create_app
    from alert_webhook.config.settings import settings_from_mapping
    from alert_webhook.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    store.create_schema()
    app = create_app(settings_from_mapping({}, {}), store=store)
    series = parse(app.test_client().get("/metrics").get_data(as_text=True))
    store.dispose()
    assert name in series


@pytest.mark.integration
def test_meta_rules_read_alertmanagers_and_prometheus_names(tmp_path: Path) -> None:
    am_port, prom_port = free_port(), free_port()
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text("global: {scrape_interval: 1s}\n")
    alertmanager = [
        find_binary("ALERTMANAGER_BIN"),
        f"--config.file={am_config}",
        f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    prometheus = [
        find_binary("PROMETHEUS_BIN"),
        f"--config.file={prom_config}",
        f"--storage.tsdb.path={tmp_path / 'prom'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
    with (
        running("alertmanager", alertmanager, tmp_path, ready_url=f"{am_url}/-/ready"),
        running("prometheus", prometheus, tmp_path, ready_url=f"{prom_url}/-/ready"),
    ):
        series = {**scrape(f"{am_url}/metrics"), **scrape(f"{prom_url}/metrics")}
    assert_published(inputs_of("alertmanager"), series, "alertmanager")
    assert_published(inputs_of("prometheus") - {"up"}, series, "prometheus")
    integrations = {labels["integration"] for labels in series["alertmanager_notifications_total"]}
    assert "webhook" in integrations


@pytest.mark.integration
def test_drill_rules_read_the_schedule_the_system_exporter_publishes(tmp_path: Path) -> None:
    """The drill schedule's textfile, as `stack drill-schedule` writes it, read by
    the system exporter's textfile collector (the webhook's drill metrics are
    checked with the rest of the webhook's names above)."""
    from stack.drill.schedule import publish

    textfile = tmp_path / "textfile"
    publish(textfile, {"restore-test": 604800.0}, {"restore-test": 1.0})
    port = free_port()
    argv = python_module(
        "exporters.system", "--listen", f"127.0.0.1:{port}",
        f"--collector.textfile.directory={textfile}",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    with running("system-exporter", argv, tmp_path, ready_url=url):
        series = scrape(url)
    assert_published(inputs_of("drill schedule"), series, "stack drill-schedule's textfile")
    assert series["stack_drill_interval_seconds"] == [{"scenario": "restore-test"}]
