"""The real alert path on free loopback ports: demo → Prometheus → Alertmanager → webhook."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.procs import find_binary, free_port, python_module, running

from stack import render
from stack.ports import HOST, SERVICES


@dataclass(frozen=True)
class AlertPath:
    ports: dict[str, int]
    token: str
    logs: Path

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"


@pytest.fixture
def alert_path(tmp_path: Path) -> Iterator[AlertPath]:
    """Every process of the stack but the probe exporter, with 1 s intervals.

    Rules are rendered with `for: 0s` and Alertmanager with `group_wait: 0s`
    so a threshold crossing reaches the webhook in seconds; the `for`
    semantics themselves are covered by the promtool rule tests.
    """
    ports = {service.name: free_port() for service in SERVICES}
    token = secrets.token_urlsafe(16)
    run = tmp_path / "run"
    run.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    rule_files = render.render_rules(run / "rules", for_override="0s")
    prometheus_yml = render.render_prometheus(run, ports, rule_files, interval="1s")
    alertmanager_yml = render.render_alertmanager(run, ports, token, fast=True)
    webhook_yml = run / "webhook.yml"
    webhook_yml.write_text(f"store:\n  url: sqlite:///{tmp_path / 'webhook.sqlite3'}\n")
    path = AlertPath(ports, token, logs)
    with ExitStack() as stack:
        stack.enter_context(
            running(
                "demo",
                python_module("demo", f"--bind={HOST}:{ports['demo']}"),
                logs,
                ready_url=path.url("demo", "/healthz"),
            )
        )
        stack.enter_context(
            running(
                "webhook",
                python_module(
                    "alert_webhook", f"--config={webhook_yml}", f"--bind={HOST}:{ports['webhook']}"
                ),
                logs,
                ready_url=path.url("webhook", "/readyz"),
                env={"ALERT_WEBHOOK_TOKEN": token},
            )
        )
        stack.enter_context(
            running(
                "system_exporter",
                python_module("exporters.system", f"--listen={HOST}:{ports['system_exporter']}"),
                logs,
                ready_url=path.url("system_exporter", "/metrics"),
            )
        )
        stack.enter_context(
            running(
                "alertmanager",
                [
                    find_binary("ALERTMANAGER_BIN"),
                    f"--config.file={alertmanager_yml}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address={HOST}:{ports['alertmanager']}",
                    "--cluster.listen-address=",
                ],
                logs,
                ready_url=path.url("alertmanager", "/-/ready"),
            )
        )
        stack.enter_context(
            running(
                "prometheus",
                [
                    find_binary("PROMETHEUS_BIN"),
                    f"--config.file={prometheus_yml}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address={HOST}:{ports['prometheus']}",
                ],
                logs,
                ready_url=path.url("prometheus", "/-/ready"),
            )
        )
        yield path
