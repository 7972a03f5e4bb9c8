"""A resolution reaches the webhook's store within a minute of Prometheus clearing
the alert, on the shipped routes' group_interval (5 min for high), read from
Alertmanager's current alerts rather than waited for.

Real Prometheus, Alertmanager and webhook on free loopback ports. Only the
first wait of each route (`group_wait`) is cut, so the firing alert arrives in
seconds; Prometheus resends every second, so the webhook's Alertmanager warm-up
can be a few seconds instead of two minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.procs import wait_until

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
