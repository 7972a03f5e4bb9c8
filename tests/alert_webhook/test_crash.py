"""SIGKILL the running webhook mid-delivery; after a restart every accepted delivery
is made, and only the one message in flight at the kill may arrive twice."""

from __future__ import annotations

import collections
import json
import os
import signal
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from fakes import smtp_provider, smtp_server
from support.procs import free_port, python_module, running, wait_until
from webhook_support import make_alert, make_notification

from alert_webhook.store import open_store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ALERTS = 40


def _config(tmp_path: Path, box) -> Path:
    data = {
        "store": {"url": f"sqlite:///{tmp_path}/webhook.sqlite3"},
        "channels": {
            "email": {"providers": [smtp_provider(box)], "recipients": ["oncall@example.org"]}
        },
        "delivery": {"lease_seconds": 2, "poll_interval_seconds": 0.05, "batch_size": 5},
    }
    path = tmp_path / "webhook.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _kill_tree(pid: int) -> None:
    """SIGKILL the webhook we started and any child of it: no clean-up runs."""
    for child in psutil.Process(pid).children(recursive=True):
        os.kill(child.pid, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)


def test_kill_9_during_delivery_loses_nothing_and_repeats_at_most_the_one_in_flight(
    tmp_path: Path,
) -> None:
    with smtp_server() as box:
        box.delay = 0.05  # a slow relay, so the kill lands mid-delivery
        config = _config(tmp_path, box)
        port = free_port()
        argv = python_module(
            "alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{port}"
        )
        url = f"http://127.0.0.1:{port}"
        with running("webhook-1", argv, tmp_path, ready_url=f"{url}/healthz", cwd=ROOT) as first:
            for i in range(ALERTS):
                body = make_notification(make_alert(f"fp{i}", severity="high"))
                assert requests.post(f"{url}/alerts", json=body, timeout=5).status_code == 200
            wait_until(lambda: len(box.messages) >= 5, 20, "some mail delivered")
            _kill_tree(first.popen.pid)
            first.popen.wait(5)
        delivered_before = len(box.messages)
        assert delivered_before < ALERTS, "the kill came after everything was delivered"
        with running("webhook-2", argv, tmp_path, ready_url=f"{url}/healthz", cwd=ROOT):
            wait_until(lambda: len(box.messages) >= ALERTS, 60, "all mail delivered after restart")
            deliveries = requests.get(f"{url}/api/deliveries", timeout=5).json()["deliveries"]
            wait_until(
                lambda: all(
                    d["status"] == "delivered"
                    for d in requests.get(f"{url}/api/deliveries", timeout=5).json()["deliveries"]
                ),
                20,
                "every delivery recorded",
            )
    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    rows = store.outbox.list(limit=1000)
    store.dispose()
    email_ids = {
        f"<delivery-{d['id']}.notify@recovery-stack>" for d in rows if d["channel"] == "email"
    }
    assert len(email_ids) == ALERTS and len(deliveries) == 2 * ALERTS
    assert all(d["status"] == "delivered" for d in rows)
    # The kill left claims in flight: the restarted webhook took them over.
    assert any(d["attempts"] >= 2 for d in rows)
    received = collections.Counter(m["Message-ID"] for m in box.messages)
    assert set(received) == email_ids  # none lost
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= 1, json.dumps(received)  # only the send the kill interrupted
