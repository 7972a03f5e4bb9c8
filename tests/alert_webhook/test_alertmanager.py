"""Real Alertmanager in front: an HA pair sends to the webhook with a bearer token;
people get one email per state change, firing then resolved."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
import yaml
from fakes import smtp_provider, smtp_server
from support.procs import find_binary, free_port, python_module, running, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-not-secret"


def _alertmanager_yml(path: Path, webhook_port: int) -> Path:
    config = {
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "webhook",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{webhook_port}/alerts",
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials": TOKEN}},
                    }
                ],
            }
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _alert(ends: dt.datetime | None = None) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    alert = {
        "labels": {"alertname": "DiskAlmostFull", "severity": "high", "instance": "db1:9100"},
        "annotations": {"summary": "Disk on db1 is 92% full"},
        "startsAt": (now - dt.timedelta(seconds=5)).isoformat(),
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return [alert]


def test_ha_pair_sends_one_email_per_state_change(tmp_path: Path) -> None:
    binary = find_binary("ALERTMANAGER_BIN")
    with smtp_server() as box, ExitStack() as stack:
        webhook_port = free_port()
        config = tmp_path / "webhook.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": {"url": f"sqlite:///{tmp_path}/webhook.sqlite3"},
                    "channels": {
                        "email": {
                            "providers": [smtp_provider(box)],
                            "recipients": ["oncall@example.org"],
                        }
                    },
                }
            )
        )
        stack.enter_context(
            running(
                "webhook",
                python_module(
                    "alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{webhook_port}"
                ),
                tmp_path,
                ready_url=f"http://127.0.0.1:{webhook_port}/healthz",
                env={"ALERT_WEBHOOK_TOKEN": TOKEN},
                cwd=ROOT,
            )
        )
        am_yml = _alertmanager_yml(tmp_path / "alertmanager.yml", webhook_port)
        web = [free_port(), free_port()]
        cluster = [free_port(), free_port()]
        for i in (0, 1):
            storage = tmp_path / f"am{i}"
            storage.mkdir()
            stack.enter_context(
                running(
                    f"alertmanager{i}",
                    [
                        binary,
                        f"--config.file={am_yml}",
                        f"--storage.path={storage}",
                        f"--web.listen-address=127.0.0.1:{web[i]}",
                        f"--cluster.listen-address=127.0.0.1:{cluster[i]}",
                        f"--cluster.peer=127.0.0.1:{cluster[1 - i]}",
                        "--cluster.peer-timeout=1s",
                        "--cluster.settle-timeout=1s",
                    ],
                    tmp_path,
                    ready_url=f"http://127.0.0.1:{web[i]}/-/ready",
                )
            )
        # Prometheus sends every alert to every Alertmanager of the pair.
        for port in web:
            resp = requests.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=_alert(), timeout=5)
            assert resp.status_code == 200
        wait_until(lambda: len(box.messages) >= 1, 30, "the firing email")
        api = f"http://127.0.0.1:{webhook_port}/api/alerts"
        (alert,) = requests.get(f"{api}?status=firing", timeout=5).json()["alerts"]
        assert alert["alertname"] == "DiskAlmostFull"
        ended = dt.datetime.now(dt.UTC)
        for port in web:
            requests.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=_alert(ended), timeout=5)
        wait_until(lambda: len(box.messages) >= 2, 30, "the resolved email")
        wait_until(
            lambda: requests.get(f"{api}?status=resolved", timeout=5).json()["alerts"],
            10,
            "resolved",
        )
        metrics = requests.get(f"http://127.0.0.1:{webhook_port}/metrics", timeout=5).text
        stored = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('alert_webhook_notifications_received_total{outcome="stored"}')
        ]
        assert stored and stored[0] >= 2  # the token was accepted for firing and resolved
        subjects = [m["Subject"] for m in box.messages]
    assert subjects == [
        "[HIGH] DiskAlmostFull on db1:9100",
        "[RESOLVED] DiskAlmostFull on db1:9100",
    ]
