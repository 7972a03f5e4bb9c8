"""A resolution reaches the webhook's store within a minute of Prometheus clearing
the alert, on the shipped routes' group_interval (5 min for high), read from
Alertmanager's current alerts rather than waited for.

Real Prometheus, Alertmanager and webhook on free loopback ports. Only the
first wait of each route (`group_wait`) is cut, so the firing alert arrives in
seconds; Prometheus resends every second, so the webhook's Alertmanager warm-up
can be a few seconds instead of two minutes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from support.procs import wait_until

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import open_store
from integration.pipeline_support import (
    Pipeline,
    Switch,
    alerting,
    new_token,
    pipeline_ports,
    webhook,
)

pytestmark = pytest.mark.integration

RULES = [
    {
        "alert": "SwitchOn",
        "expr": "switch_on == 1",
        "for": "0s",
        "labels": {"severity": "high", "service": "switch"},
        "annotations": {"summary": "the switch is on"},
    }
]
# The bound: a resolution on the console within a minute of Prometheus
# clearing the alert (the default 10 s reconcile interval makes it 10-20 s here).
WITHIN = 60.0
WARMUP = 5.0  # Prometheus resends every second here
INTERVAL = 10.0  # the default reconcile interval


def test_a_resolution_reaches_the_store_within_a_minute_not_at_the_group_interval(
    tmp_path: Path,
) -> None:
    ports, token = pipeline_ports(), new_token()
    config = {
        "store": {"url": f"sqlite:///{tmp_path}/webhook.sqlite3"},
        "reconcile": {"alertmanager_warmup_seconds": WARMUP},
    }
    with (
        Switch() as switch,
        webhook(tmp_path, ports, token, config),
        alerting(tmp_path, ports, token, switch, RULES, resend_delay="1s"),
    ):
        started = time.monotonic()  # Alertmanager is up
        path = Pipeline(ports, token, tmp_path)
        wait_until(lambda: path.alerts("SwitchOn", "firing"), 30, "SwitchOn firing at the webhook")
        fired_at = time.monotonic()
        # Past the warm-up and two looks at Alertmanager: what fires stays firing.
        time.sleep(max(0.0, started + WARMUP + 2 * INTERVAL + 1 - time.monotonic()))
        assert path.alerts("SwitchOn", "resolved") == []
        switch.on = False
        cleared_at = time.monotonic()
        wait_until(lambda: path.alerts("SwitchOn", "resolved"), WITHIN, "the resolution")
        took = time.monotonic() - cleared_at
        assert took < WITHIN
        # Alertmanager's own resolved notification waits for the route's 5 min.
        assert time.monotonic() - fired_at < 300
        assert _group_keys(tmp_path) == ["alert_webhook/reconcile"]  # who told the resolution
        print(f"\nresolution at the webhook {took:.1f} s after the switch was turned off")


def _group_keys(home: Path) -> list[str]:
    """The group keys of the notifications that brought a resolution."""
    store = open_store(f"sqlite:///{home}/webhook.sqlite3")
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT n.group_key FROM alert_events e"
                " JOIN notifications n ON n.id = e.notification_id WHERE e.status = 'resolved'"
            )
            return [row[0] for row in rows]
    finally:
        store.dispose()


def _restored_with(url: str, *alerts: dict) -> None:
    """A store as restored from a snapshot: these alerts firing, as Alertmanager
    told them before the snapshot."""
    store = open_store(url)
    store.create_schema()
    notification = {
        "version": "4", "groupKey": '{}/{severity="high"}:{alertname="SwitchOn"}',
        "status": "firing", "receiver": "webhook-high", "alerts": list(alerts),
    }  # fmt: skip
    body = json.dumps(notification).encode()
    recording = recording_from(settings_from_mapping({}, {}), ["dashboard"])
    store.record_notification(parse_notification(body), body, time.time() - 600, recording)
    store.dispose()


def _firing(fingerprint: str, starts_at: str) -> dict:
    labels = {"alertname": "SwitchOn", "severity": "high", "n": fingerprint}
    return {"status": "firing", "labels": labels, "startsAt": starts_at, "fingerprint": fingerprint}


def test_a_restored_store_is_repaired_from_start_up(tmp_path: Path) -> None:
    # Resolved after the snapshot: Alertmanager sent that resolution to the store
    # that was lost and never sends it again. Still firing: Alertmanager has it.
    url = f"sqlite:///{tmp_path}/webhook.sqlite3"
    ports, token = pipeline_ports(), new_token()
    config = {"store": {"url": url}, "reconcile": {"alertmanager_warmup_seconds": 0}}
    with Switch() as switch, alerting(tmp_path, ports, token, switch, []):
        am = f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts"
        still = _firing("a2", "2026-12-06T06:00:00Z")
        posted = requests.post(am, json=[{k: still[k] for k in ("labels", "startsAt")}], timeout=5)
        assert posted.status_code == 200
        [held] = requests.get(am, timeout=5).json()
        still["fingerprint"] = held["fingerprint"]  # Alertmanager's, as it notifies it
        _restored_with(url, _firing("a1", "2026-12-06T06:00:00Z"), still)
        with webhook(tmp_path, ports, token, config):
            path = Pipeline(ports, token, tmp_path)
            began = time.monotonic()
            wait_until(lambda: path.alerts("SwitchOn", "resolved"), 2 * INTERVAL + 10, "repair")
            print(f"\nrepaired {time.monotonic() - began:.1f} s after the webhook was ready")
            time.sleep(2)
            assert [a["labels"]["n"] for a in path.alerts("SwitchOn", "resolved")] == ["a1"]
            assert [a["labels"]["n"] for a in path.alerts("SwitchOn", "firing")] == ["a2"]
