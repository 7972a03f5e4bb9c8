"""Every panel returns data from a live Prometheus fed by the real exporters and webhook.

One `python -m stack up --fast` (supervisord, Prometheus, Alertmanager, webhook,
exporters, demo), given what its own configuration lacks for a few panels and
then made to live through what the others draw:

- a database pool (a SQLite status table, as an application's pool keeps one)
  and an HTTPS service (a self-signed certificate) added to its probe file;
- a webhook channel whose receiver is down, so a delivery fails and escalates;
- the demo killed, so the restart playbook recovers it through the alert path;
- a service that fails twice, so it has a time between failures.

The queries run as Grafana sends them with every variable at "All", over the last
half minute as range queries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import signal
import sqlite3
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from boards import DASHBOARDS, ROOT, fill, load, metric_names, panels
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from integration.launcher import RECOVERED, Launched, launched
from support.loopback import Replying
from support.procs import free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
TOKEN = "test-token-for-grafana"
# Grafana's $__rate_interval: at least four scrape intervals (1 s here), more when
# the graph's step is wider.
RATE_INTERVAL = "10s"
ESCALATE = {"grafana_live": "escalate"}


class Healthy(Replying):
    def do_GET(self) -> None:
        self.reply(200, b"ok")


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "tls.crt", tmp / "tls.key")
    return context


@contextlib.contextmanager
def _https_service(tmp: Path) -> Iterator[int]:
    """A loopback HTTPS service with a self-signed certificate, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    server.socket = _self_signed(tmp).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _pool_table(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE pool (in_use INTEGER, idle INTEGER, size INTEGER)")
        db.execute("INSERT INTO pool VALUES (3, 5, 10)")
    return f"sqlite:///{path}"


def _webhook_config(tmp: Path) -> Path:
    """The shipped settings plus a webhook channel whose receiver is down (a port
    nothing listens on), and the route that sends the test's alert there."""
    config = yaml.safe_load((ROOT / "alert_webhook" / "webhook.yml").read_text())
    config["channels"]["webhook"]["providers"] = [
        {"name": "down", "url": f"http://127.0.0.1:{free_port()}/hook", "timeout_seconds": 1}
    ]
    config["routing"]["routes"] = [{"match": ESCALATE, "channels": ["webhook"]}]
    # Given up (and escalated) after two tries and two seconds, not the plan's 15 minutes.
    config["delivery"]["retry"].update(
        max_attempts=2, base_delay_seconds=0.5, give_up_after_seconds=2
    )
    path = tmp / "webhook.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _add_probes(stack: Launched, pool_dsn: str, https_port: int) -> None:
    """The stack's rendered probe file plus the two probes, and the exporter
    restarted under supervisord to read it."""
    probes = stack.root / "var" / "run" / "probes.yml"
    config = yaml.safe_load(probes.read_text())
    config["checks"] += [
        {"name": "orders-pool", "kind": "db_pool", "service": "orders-db", "dsn": pool_dsn,
         "queries": {"in_use": "SELECT in_use FROM pool", "idle": "SELECT idle FROM pool",
                     "max": "SELECT size FROM pool"}},
        {"name": "shop-https", "kind": "http", "service": "shop",
         "url": f"https://127.0.0.1:{https_port}/", "verify_tls": False},
    ]  # fmt: skip
    probes.write_text(yaml.safe_dump(config, sort_keys=False))
    restarted = stack.ctl("restart", "probe_exporter")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr


def _kill_demo_and_wait_for_recovery(stack: Launched) -> None:
    state, pid = stack.state("demo")
    assert state == "RUNNING" and pid, state
    killed_at = time.time()
    # The whole group: a gunicorn worker left behind would keep the port.
    os.killpg(pid, signal.SIGKILL)
    wait_until(
        lambda: any(
            r["playbook"] == "restart-demo" and r["planned_at"] >= killed_at
            and r["status"] == RECOVERED
            for r in stack.remediations()
        ),
        60,
        "the demo restarted through the alert path",
    )  # fmt: skip


def _notification(status: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4", "groupKey": "{}:{grafana_live}", "status": status,
        "receiver": "webhook", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": alerts,
    }  # fmt: skip


def _alert(name: str, status: str, starts: datetime, **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager sends it; the same name is the same fingerprint."""
    ends = datetime.now(UTC) if status == "resolved" else datetime(1, 1, 1, tzinfo=UTC)
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "medium", **labels},
        "annotations": {"summary": f"{name} (grafana live test)"},
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": "",
        "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
    }


def _acknowledge(stack: Launched, alertname: str) -> None:
    """Acknowledge the open incident of the alert `alertname` (the time to
    acknowledge has an observation)."""
    auth = {"Authorization": f"Bearer {stack.token}"}
    found = requests.get(stack.url("webhook", "/api/incidents?state=open"), headers=auth,
                         timeout=5).json()["incidents"]  # fmt: skip
    [alert_id] = [i["alert_id"] for i in found if i["alertname"] == alertname]
    acked = requests.post(stack.url("webhook", f"/api/incidents/{alert_id}/ack"), json={},
                          headers=auth, timeout=5)  # fmt: skip
    assert acked.status_code == 200, acked.text


def _provoke(stack: Launched) -> None:
    """What the panels draw that a quiet stack never does."""
    now = datetime.now(UTC)
    stack.post_alerts(_notification("firing", [_alert("GrafanaLiveEscalate", "firing", now,
                                                      **ESCALATE)]))  # fmt: skip
    # Two failures of one service, one after the other: fired, resolved, fired again.
    first = now - dt.timedelta(seconds=30)
    for status in ("firing", "resolved"):
        down = _alert("GrafanaLiveDown", status, first, service="grafana-live")
        stack.post_alerts(_notification(status, [down]))
    again = _alert("GrafanaLiveSlow", "firing", datetime.now(UTC), service="grafana-live")
    stack.post_alerts(_notification("firing", [again]))
    _acknowledge(stack, "GrafanaLiveSlow")
    _kill_demo_and_wait_for_recovery(stack)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    base = tmp_path_factory.mktemp("grafana-live")
    pool = _pool_table(base / "pool.sqlite3")
    root = base / "stack"
    root.mkdir()
    args = ["--fast", f"--webhook-config={_webhook_config(base)}"]
    with _https_service(base) as https_port, launched(root, TOKEN, args) as stack:
        _add_probes(stack, pool, https_port)
        _provoke(stack)
        yield stack


def _series(stack: Launched, expr: str) -> list[dict[str, Any]]:
    now = time.time()
    response = requests.get(
        stack.url("prometheus", "/api/v1/query_range"),
        params={"query": expr, "start": now - 30, "end": now, "step": 1},
        timeout=10,
    )
    body = response.json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _queries() -> list[tuple[str, str, str]]:
    return [
        (path.name, panel["title"], fill(target["expr"], RATE_INTERVAL))
        for path in DASHBOARDS
        for panel in panels(load(path))
        for target in panel["targets"]
    ]


def test_every_panel_returns_data(live: Launched) -> None:
    empty: list[tuple[str, str, str]] = []

    def all_answer() -> bool:
        empty[:] = [q for q in _queries() if not _series(live, q[2])]
        return not empty

    with contextlib.suppress(TimeoutError):
        wait_until(all_answer, 60, "every panel's query to return data", interval=1)
    assert empty == [], "panels without data:\n" + "\n".join(map(str, empty))


def test_every_metric_a_panel_names_is_scraped_or_recorded(live: Launched) -> None:
    response = requests.get(live.url("prometheus", "/api/v1/label/__name__/values"), timeout=10)
    present = set(response.json()["data"])
    named = {name for _board, _title, expr in _queries() for name in metric_names(expr)}
    assert sorted(named - present) == []
