"""Flapping with real fire/resolve cycles: a metric flipped on and off under a
real Prometheus (1 s scrape and evaluation) and Alertmanager (the shipped routes
on the fast profile: group_wait 0 s, group_interval 1 s), notifying the webhook
process. Counts the state changes that reached the store and the messages that
went out: past `max_changes` the changes collapse into one notice, and holding
one state for `hold_seconds` is told once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.procs import wait_until

from alert_webhook.store import open_store
from integration.pipeline_support import Switch, alerting, new_token, pipeline_ports, webhook

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
MAX_CHANGES = 4
HOLD = 6.0
CYCLES = 6
HALF_CYCLE = 3.0  # s: three scrapes and evaluations, three group intervals


def _count(url: str, sql: str) -> int:
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            return int(conn.exec_driver_sql(sql).scalar_one())
    finally:
        store.dispose()


CHANGES = "SELECT count(*) FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
# The dashboard's messages (high: email and dashboard; no email is configured
# here, so the dashboard is where every message shows).
MESSAGES = "SELECT count(*) FROM deliveries WHERE channel = 'dashboard' AND status = 'delivered'"
EPISODES = "SELECT count(*) FROM flapping"
ENDED = "SELECT count(*) FROM flapping WHERE ended_at IS NOT NULL"


def test_a_flapping_alert_collapses_into_one_notice_and_one_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/webhook.sqlite3"
    ports, token = pipeline_ports(), new_token()
    flapping = {"max_changes": MAX_CHANGES, "window_seconds": 600, "hold_seconds": HOLD}
    config = {"store": {"url": url}, "incidents": {"flapping": flapping}}
    with (
        Switch() as switch,
        webhook(tmp_path, ports, token, config),
        alerting(tmp_path, ports, token, switch, RULES, resend_delay="1s", fast=True),
    ):
        wait_until(lambda: _count(url, CHANGES) >= 1, 30, "SwitchOn firing at the webhook")
        began = time.monotonic()
        for _ in range(CYCLES):
            time.sleep(HALF_CYCLE)
            switch.on = False
            time.sleep(HALF_CYCLE)
            switch.on = True
        time.sleep(HALF_CYCLE)
        switch.on = False  # and it stays off
        wait_until(lambda: _count(url, ENDED) == 1, HOLD + 30, "the end of flapping")
        took = time.monotonic() - began
        time.sleep(2)  # nothing more comes
        changes, messages = _count(url, CHANGES), _count(url, MESSAGES)
        assert _count(url, EPISODES) == 1
        assert changes > MAX_CHANGES + 1  # enough cycles reached us to flap
        # As usual up to the limit, one notice past it, one "stopped flapping".
        assert messages == MAX_CHANGES + 2
        print(f"\nflapping: {changes} state changes in, {messages} messages out "
              f"(dashboard), in {took:.0f} s")  # fmt: skip
