"""A stack started again after an hour down raises no false alarm: the webhook's
store says the Watchdog heartbeat was last seen an hour ago, the webhook starts
first and Prometheus and Alertmanager after it (as `make up` starts them), and
no AlertingPipelineBroken is recorded or delivered while the heartbeat begins
arriving again.

Real webhook process, real Prometheus (the Watchdog rule, 1 s evaluations) and
Alertmanager (the shipped heartbeat route) on free loopback ports."""

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
from integration.pipeline_support import Pipeline, Switch, alerting, new_token, pipeline_ports
from integration.pipeline_support import webhook as webhook_process

pytestmark = pytest.mark.integration

WATCHDOG_RULE = {
    "alert": "Watchdog",
    "expr": "vector(1)",
    "for": "0s",
    "labels": {"severity": "low"},
    "annotations": {"summary": "Watchdog: the alerting pipeline is alive"},
}
# The webhook's watchdog reads the store on its first pass (then every timeout/30 s,
# and at the instant the silence would pass): the false alarm came on the first pass.
WATCHED = 5.0


def _last_seen_an_hour_ago(url: str) -> float:
    """A store whose last heartbeat is an hour old, as a stack stopped an hour ago leaves it."""
    store = open_store(url)
    store.create_schema()
    heartbeat = {
        "version": "4", "groupKey": '{}/{alertname="Watchdog"}:{alertname="Watchdog"}',
        "status": "firing", "receiver": "heartbeat",
        "alerts": [{"status": "firing", "labels": {"alertname": "Watchdog", "severity": "low"},
                    "startsAt": "2026-12-06T06:00:00Z", "fingerprint": "0123456789abcdef"}],
    }  # fmt: skip
    body = json.dumps(heartbeat).encode()
    then = time.time() - 3600
    recording = recording_from(settings_from_mapping({}, {}), ["dashboard"])
    store.record_notification(parse_notification(body), body, then, recording)
    assert store.last_heartbeat("Watchdog") == then
    store.dispose()
    return then


def _own_alarm(url: str) -> tuple[int, int]:
    """AlertingPipelineBroken instances and deliveries of any kind, in the store."""
    store = open_store(url)
    try:
        alarms = [a for a in store.list_alerts() if a.alertname == "AlertingPipelineBroken"]
        return len(alarms), store.count("deliveries")
    finally:
        store.dispose()


def _last_heartbeat(path: Pipeline) -> float:
    text = requests.get(path.url("webhook", "/metrics"), timeout=5).text
    [line] = [
        line
        for line in text.splitlines()
        if line.startswith("alert_webhook_last_watchdog_timestamp_seconds ")
    ]
    return float(line.split()[1])


def test_a_start_an_hour_after_the_last_heartbeat_raises_no_alarm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/webhook.sqlite3"
    then = _last_seen_an_hour_ago(url)
    ports, token = pipeline_ports(), new_token()
    path = Pipeline(ports, token, tmp_path)
    with Switch() as switch, webhook_process(tmp_path, ports, token, {"store": {"url": url}}):
        started = time.time()
        wait_until(lambda: _last_heartbeat(path) == then, 10, "the old heartbeat read")
        time.sleep(WATCHED)  # the webhook alone, its duties running every second
        assert _own_alarm(url) == (0, 0)
        # Prometheus resends each second: its first send, before it has found
        # Alertmanager, is dropped, and the default resend delay would make the
        # heartbeat wait a minute for the next (harmless: the timeout is 5 min).
        rules = [WATCHDOG_RULE]
        with alerting(tmp_path, ports, token, switch, rules, group_wait="0s", resend_delay="1s"):
            wait_until(lambda: _last_heartbeat(path) > started, 30, "the heartbeat to arrive")
            time.sleep(2)  # and a couple more passes of the watchdog
        assert _own_alarm(url) == (0, 0)
        assert path.alerts("AlertingPipelineBroken") == []
