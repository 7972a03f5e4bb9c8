"""Scale-out: two webhook replicas on one PostgreSQL behind an Alertmanager HA
pair run each remediation exactly once.

Every alert goes to both Alertmanagers (as a Prometheus pair sends it), each
Alertmanager notifies both replicas, so each replica may record the same state
change several times; the store's unique keys and the run's lease decide that
its command runs once. The command appends a line to a file: the lines are the
runs that acted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support import postgres
from support.loopback import quiet_prometheus
from support.procs import find_binary, free_port, python_module, running, wait_until

from integration.launcher import RECOVERED
from stack import render
from stack.ports import HOST, SERVICES
from stack.up import TOKEN_ENV

TOKEN = "test-token-for-ha"
DATABASE_URL_ENV = "ALERT_WEBHOOK_DATABASE_URL"
REPLICAS = ("a", "b")
INSTANCES = [f"node-{n}" for n in range(5)]
DEFAULT_PORTS = {s.name: s.default_port for s in SERVICES}
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"

pytestmark = [
    pytest.mark.skipif(bool(postgres.unavailable()), reason=str(postgres.unavailable())),
    pytest.mark.timeout(240),  # PostgreSQL, two replicas and a cluster to start first
]


def _playbooks(path: Path, marker: Path) -> Path:
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", APPEND, str(marker), "{labels.instance}"]},
    }
    # These alerts come from no rule (no generatorURL): the check asks its own
    # query, of a Prometheus that finds nothing, so each run ends verified.
    verify = {"query": "exactly_once_failing", "delay": "1s", "window": "1s"}
    book = {"name": "exactly-once", "match": {"alertname": "ExactlyOnce"},
            "target": ["instance"], "actions": [step], "blast_radius": 20,
            "verify": verify}  # fmt: skip
    path.write_text(yaml.safe_dump({"playbooks": [book]}))
    return path


def _alertmanager_config(dest: Path, webhook_urls: list[str]) -> Path:
    """The shipped routes on the fast timings, every receiver sending to both replicas."""
    path = render.render_alertmanager(dest, DEFAULT_PORTS, TOKEN, fast=True)
    config = yaml.safe_load(path.read_text())
    for receiver in config["receivers"]:
        [webhook] = receiver["webhook_configs"]
        receiver["webhook_configs"] = [{**webhook, "url": url} for url in webhook_urls]
    path.write_text(yaml.safe_dump(config))
    return path


class Pair:
    def __init__(self, webhooks: dict[str, int], alertmanagers: list[int]) -> None:
        self.webhooks, self.alertmanagers = webhooks, alertmanagers

    def runs(self) -> list[dict[str, Any]]:
        url = f"http://{HOST}:{self.webhooks['a']}/api/remediations"
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["remediations"]
        return runs

    def received(self, replica: str) -> float:
        """Notifications this replica took in (its own counter)."""
        text = requests.get(f"http://{HOST}:{self.webhooks[replica]}/metrics", timeout=5).text
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("alert_webhook_notifications_received_total")
        )

    def peers(self, port: int) -> int:
        status = requests.get(f"http://{HOST}:{port}/api/v2/status", timeout=5).json()
        return len(status["cluster"]["peers"])


@pytest.fixture(scope="module")
def ha_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, Path]]:
    base = tmp_path_factory.mktemp("ha")
    marker = base / "ran.log"
    playbooks = _playbooks(base / "playbooks.yml", marker)
    webhook_ports = {name: free_port() for name in REPLICAS}
    web_ports, gossip = [free_port(), free_port()], [free_port(), free_port()]
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres.server())
        prometheus = stack.enter_context(quiet_prometheus())
        for name, port in webhook_ports.items():
            folder = base / f"webhook-{name}"
            remediation = {"enabled": True, "playbooks_file": str(playbooks), "lease_seconds": 5,
                           "prometheus_url": prometheus}  # fmt: skip
            # Alertmanager's API (silences, the reconcile loop) is the pair's first
            # peer, never one that may run on the default port.
            ports = {**DEFAULT_PORTS, "alertmanager": web_ports[0]}
            config = render.render_webhook(folder, ports, {}, remediation)
            stack.enter_context(
                running(
                    f"webhook-{name}",
                    python_module("alert_webhook", f"--config={config}", f"--bind={HOST}:{port}"),
                    base,
                    ready_url=f"http://{HOST}:{port}/readyz",
                    env={TOKEN_ENV: TOKEN, DATABASE_URL_ENV: database_url},
                    cwd=folder,
                )
            )
        urls = [f"http://{HOST}:{port}/alerts" for port in webhook_ports.values()]
        for index, (web, listen) in enumerate(zip(web_ports, gossip, strict=True)):
            folder = base / f"alertmanager-{index}"
            folder.mkdir()
            peer = gossip[1 - index]
            argv = [
                find_binary("ALERTMANAGER_BIN"),
                f"--config.file={_alertmanager_config(folder, urls)}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address={HOST}:{web}",
                f"--cluster.listen-address={HOST}:{listen}",
                f"--cluster.advertise-address={HOST}:{listen}",
                f"--cluster.peer={HOST}:{peer}",
                "--cluster.gossip-interval=100ms",
                "--cluster.peer-timeout=1s",
            ]
            stack.enter_context(
                running(
                    f"alertmanager-{index}", argv, base, ready_url=f"http://{HOST}:{web}/-/ready"
                )
            )
        pair = Pair(webhook_ports, web_ports)
        wait_until(lambda: all(pair.peers(p) == 2 for p in web_ports), 30, "the cluster to form")
        yield pair, marker


def test_each_remediation_runs_once_across_replicas_and_peers(ha_pair) -> None:
    pair, marker = ha_pair
    now = datetime.now(UTC)
    alerts = [
        {"labels": {"alertname": "ExactlyOnce", "instance": instance, "severity": "medium"},
         "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}
        for instance in INSTANCES
    ]  # fmt: skip
    for port in pair.alertmanagers:  # as a Prometheus pair sends them: to both
        url = f"http://{HOST}:{port}/api/v2/alerts"
        assert requests.post(url, json=alerts, timeout=5).status_code == 200

    def lines() -> list[str]:
        return marker.read_text().splitlines() if marker.exists() else []

    wait_until(lambda: len(lines()) >= len(INSTANCES), 60, "every instance's remediation")
    wait_until(lambda: all(pair.received(r) > 0 for r in REPLICAS), 30, "both replicas notified")
    # Let the second peer's and the replicas' late copies arrive: none may act.
    time.sleep(5)
    assert sorted(lines()) == INSTANCES
    runs = pair.runs()
    assert sorted(r["target"] for r in runs) == sorted(f"instance={i}" for i in INSTANCES)
    wait_until(lambda: {r["status"] for r in pair.runs()} == {RECOVERED}, 30, "every run verified")
