"""Inhibitions on a real Alertmanager: alerts posted to its API v2, notifications
read by a loopback receiver standing in for the webhook.

The committed alertmanager.yml is used with only the webhook's port moved and
the groups' timings shortened, the way the launcher renders it for fast tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.procs import find_binary, free_port, running, wait_until

from stack import render
from stack.ports import SERVICES
from stack.supervisor import Layout, programs
from stack.up import render_all

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-not-a-secret"


pytestmark = pytest.mark.integration


class Receiver:
    """Records every notification POSTed to it, with its Authorization header."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str | None, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.notifications.append(
                        (self.headers.get("Authorization"), json.loads(body))
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def alerts(self, status: str = "firing") -> list[dict[str, str]]:
        """Labels of every alert received with this status."""
        with self.lock:
            return [
                alert["labels"]
                for _, body in self.notifications
                for alert in body["alerts"]
                if alert["status"] == status
            ]

    def names(self, status: str = "firing") -> set[tuple[str, str]]:
        return {(a["alertname"], a.get("severity", "")) for a in self.alerts(status)}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()
        thread.join(timeout=5)


def _fast(route: dict[str, Any]) -> None:
    route["group_wait"], route["group_interval"] = "1s", "1s"
    for child in route.get("routes", []):
        _fast(child)


def render_config(dest: Path, webhook_port: int) -> Path:
    text = (REPO / "alertmanager" / "alertmanager.yml").read_text()
    config = yaml.safe_load(text.replace("127.0.0.1:9095", f"127.0.0.1:{webhook_port}"))
    _fast(config["route"])
    (dest / "webhook-token").write_text(TOKEN)
    path = dest / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    config = render_config(tmp_path, receiver.port)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        find_binary("ALERTMANAGER_BIN"),
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running("alertmanager", argv, tmp_path, ready_url=f"{url}/-/ready"):
        yield url


def post(am: str, *alerts: dict[str, str], ends_in: float = 3600) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": labels["alertname"]},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (now + timedelta(seconds=ends_in)).isoformat(),
        }
        for labels in alerts
    ]
    requests.post(f"{am}/api/v2/alerts", json=body, timeout=5).raise_for_status()


def inhibited(am: str) -> set[tuple[str, str, str]]:
    listed = requests.get(f"{am}/api/v2/alerts", timeout=5).json()
    return {
        (a["labels"]["alertname"], a["labels"].get("severity", ""), a["labels"].get("job", ""))
        for a in listed
        if a["status"]["inhibitedBy"]
    }


def settle(receiver: Receiver, wanted: set[tuple[str, str]]) -> None:
    """Wait for `wanted` to arrive, then two more group intervals for anything else."""
    wait_until(lambda: wanted <= receiver.names(), 20, f"notifications for {sorted(wanted)}")
    time.sleep(2)


def test_critical_mutes_lower_tiers_of_the_same_alert_and_target(
    alertmanager: str, receiver: Receiver
) -> None:
    target = {"alertname": "ErrorBudgetBurn", "job": "demo", "service": "demo"}
    post(alertmanager, {**target, "severity": "critical", "window": "1h"})
    wait_until(lambda: receiver.names() == {("ErrorBudgetBurn", "critical")}, 20, "the source")

    post(
        alertmanager,
        {**target, "severity": "high", "window": "6h"},  # muted: same alert, same target
        {**target, "job": "other", "service": "other", "severity": "high", "window": "6h"},
        {"alertname": "HostCpuHigh", "job": "demo", "severity": "high"},  # another alert
    )
    settle(receiver, {("ErrorBudgetBurn", "critical"), ("HostCpuHigh", "high")})

    received = receiver.alerts()
    assert {(a["alertname"], a["severity"], a["job"]) for a in received} == {
        ("ErrorBudgetBurn", "critical", "demo"),
        ("ErrorBudgetBurn", "high", "other"),
        ("HostCpuHigh", "high", "demo"),
    }
    assert inhibited(alertmanager) == {("ErrorBudgetBurn", "high", "demo")}
    # Every notification carried the bearer token read from the credentials file.
    assert {auth for auth, _ in receiver.notifications} == {f"Bearer {TOKEN}"}


def test_service_down_mutes_its_symptoms_and_resolves_are_sent(
    alertmanager: str, receiver: Receiver
) -> None:
    down = {"alertname": "ServiceUnavailable", "severity": "critical", "service": "demo"}
    post(alertmanager, {**down, "job": "probes", "probe": "demo", "category": "connection"})
    wait_until(lambda: receiver.names() == {("ServiceUnavailable", "critical")}, 20, "the source")

    post(
        alertmanager,
        {"alertname": "ErrorRateHigh", "severity": "high", "job": "demo", "service": "demo"},
        {
            "alertname": "ApiResponseTimeHigh",
            "severity": "medium",
            "job": "demo",
            "service": "demo",
        },
        {"alertname": "ErrorRateHigh", "severity": "high", "job": "api", "service": "api"},
    )
    settle(receiver, {("ServiceUnavailable", "critical"), ("ErrorRateHigh", "high")})

    assert {(a["alertname"], a["service"]) for a in receiver.alerts()} == {
        ("ServiceUnavailable", "demo"),
        ("ErrorRateHigh", "api"),
    }
    assert inhibited(alertmanager) == {
        ("ErrorRateHigh", "high", "demo"),
        ("ApiResponseTimeHigh", "medium", "demo"),
    }

    # The service comes back: its resolution reaches the webhook (send_resolved).
    post(
        alertmanager,
        {**down, "job": "probes", "probe": "demo", "category": "connection"},
        ends_in=-1,
    )
    wait_until(
        lambda: ("ServiceUnavailable", "critical") in receiver.names("resolved"), 20, "resolved"
    )


def _active(am: str) -> list[dict[str, Any]]:
    return requests.get(f"{am}/api/v2/alerts", timeout=5).json()


def test_a_down_service_mutes_its_request_alerts_as_the_rules_label_them(
    tmp_path: Path, receiver: Receiver
) -> None:
    """No hand-written labels: the committed probe file, prometheus.yml and rules
    make the alerts, from a real probe exporter and the real demo with its own
    traffic. The demo's probes are aimed at a port where nothing listens (its
    health endpoint down) while its API fails every request."""
    ports = {service.name: free_port() for service in SERVICES}
    ports["webhook"] = receiver.port  # Alertmanager notifies the receiver
    layout = Layout(tmp_path)
    layout.make()
    configs = render_all(layout, ports, TOKEN, fast=True)
    down, closed = tmp_path / "down", free_port()
    down.mkdir()
    configs["probes"] = render.render_text(
        down, REPO / "exporters" / "probes.yml", {**ports, "demo": closed}
    )
    binaries = {var: find_binary(var) for var in ("PROMETHEUS_BIN", "ALERTMANAGER_BIN")}
    commands = programs(layout, ports, binaries, configs)
    ready = {
        "demo": "/healthz",
        "probe_exporter": "/metrics",
        "prometheus": "/-/ready",
        "alertmanager": "/-/ready",
    }
    am = f"http://127.0.0.1:{ports['alertmanager']}"
    with ExitStack() as procs:
        for name, path in ready.items():
            procs.enter_context(
                running(
                    name,
                    commands[name],
                    layout.log,
                    ready_url=f"http://127.0.0.1:{ports[name]}{path}",
                    cwd=tmp_path,
                )
            )

        def demo_down() -> list[dict[str, str]]:
            return [
                a
                for a in receiver.alerts()
                if a["alertname"] == "ServiceUnavailable" and a["service"] == "demo"
            ]

        wait_until(demo_down, 30, "ServiceUnavailable for the demo")
        # The probe's alert is about the service it watches and the URL it probed.
        [alert] = demo_down()
        assert alert["probe"] == "demo-http"
        assert alert["job"] == "probes"
        assert alert["instance"] == f"http://127.0.0.1:{closed}/healthz"

        requests.post(
            f"http://127.0.0.1:{ports['demo']}/chaos", json={"error_ratio": 1}, timeout=5
        ).raise_for_status()

        def muted() -> set[tuple[str, str, str]]:
            return {
                (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["service"])
                for a in _active(am)
                if a["status"]["inhibitedBy"]
            }

        wait_until(lambda: ("ErrorRateHigh", "high", "demo") in muted(), 60, "ErrorRateHigh muted")
        time.sleep(2)  # two group intervals: a notification for it would have gone out
    assert [a for a in receiver.alerts() if a["alertname"] == "ErrorRateHigh"] == []
