"""ingest/record.py: a batch of notifications means what they would mean one after
another; the dashboard's deliveries are delivered when stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.db.schema import notifications
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.record import Incoming
from alert_webhook.store import SqlStore


def _item(*alerts: dict[str, Any], at: float) -> Incoming:
    body = json.dumps(make_notification(*alerts)).encode()
    return Incoming(parse_notification(body), body, at)


def _deliveries(store: SqlStore) -> list[dict[str, Any]]:
    return sorted(store.outbox.list(), key=lambda d: d["id"])


def test_firing_and_resolved_in_one_batch_are_two_state_changes(store: SqlStore) -> None:
    fired = _item(make_alert("a", severity="critical"), at=100.0)
    resolved = _item(make_alert("a", severity="critical", status="resolved"), at=101.0)
    results = store.record_many([fired, resolved], RECORDING, 102.0)
    assert [r.state_changes for r in results] == [1, 1]
    (alert,) = store.list_alerts()
    assert alert.status == "resolved" and alert.last_received_at == 101.0
    (incident,) = store.incidents.list()
    assert incident["closed_at"] == 101.0
    by_state: dict[str, list[str]] = {}
    for d in _deliveries(store):
        by_state.setdefault(d["event_status"], []).append(d["channel"])
    assert by_state["resolved"] == by_state["firing"]  # where the firing one went


def test_a_late_firing_copy_in_the_same_batch_does_not_reopen(store: SqlStore) -> None:
    store.record_many([_item(make_alert("a"), at=100.0)], RECORDING, 100.0)
    late = [
        _item(make_alert("a", status="resolved"), at=200.0),
        _item(make_alert("a"), at=201.0),  # an HA peer's older copy
    ]
    results = store.record_many(late, RECORDING, 202.0)
    assert [r.state_changes for r in results] == [1, 0]
    (alert,) = store.list_alerts()
    assert alert.status == "resolved" and alert.last_received_at == 200.0


def test_the_later_copy_wins_and_each_change_keeps_its_own_receive_time(
    store: SqlStore,
) -> None:
    first = make_alert("a", severity="medium")
    later = make_alert("a", severity="medium")
    later["annotations"]["summary"] = "newer text"
    results = store.record_many(
        [_item(first, make_alert("b", severity="low"), at=100.0), _item(later, at=150.0)],
        RECORDING,
        160.0,
    )
    assert [r.state_changes for r in results] == [2, 0]  # b, then a repeat of a
    alerts = {a.fingerprint: a for a in store.list_alerts()}
    assert alerts["a"].annotations["summary"] == "newer text"
    assert (alerts["a"].first_received_at, alerts["a"].last_received_at) == (100.0, 150.0)
    assert {d["received_at"] for d in _deliveries(store)} == {100.0}


def test_dashboard_deliveries_are_delivered_when_stored_and_counted_apart(
    store: SqlStore,
) -> None:
    medium = _item(make_alert("m", severity="medium"), at=100.0)
    low = _item(make_alert("l", severity="low"), at=101.0)
    results = store.record_many([medium, low], RECORDING, 100.5)
    assert [(r.stored_deliveries, r.queued_deliveries) for r in results] == [(1, 0), (0, 1)]
    dashboard, log = _deliveries(store)
    assert (dashboard["channel"], dashboard["status"], dashboard["provider"]) == (
        "dashboard", "delivered", "dashboard",
    )  # fmt: skip
    assert (dashboard["attempts"], dashboard["finished_at"]) == (1, 100.5)
    assert (log["channel"], log["status"], log["received_at"]) == ("log", "pending", 101.0)
    assert store.outbox.backlog(102.0) == (1, 1.0)


def test_a_driver_error_mid_batch_is_store_unavailable_and_stores_nothing(
    store: SqlStore,
) -> None:
    with store.engine.begin() as conn:  # the incidents insert will fail
        conn.exec_driver_sql("DROP TABLE incidents")
    with pytest.raises(StoreUnavailable, match="no such table"):
        store.record_many([_item(make_alert("a"), at=100.0)], RECORDING, 100.0)
    for table in ("notifications", "alerts", "alert_events", "deliveries"):
        assert store.count(table) == 0, table


def test_the_watchdog_in_a_batch_is_a_heartbeat_at_its_latest_time(store: SqlStore) -> None:
    beat = make_alert("w", alertname="Watchdog", severity="none")
    items = [_item(beat, at=50.0), _item(make_alert("a"), at=60.0), _item(beat, at=70.0)]
    results = store.record_many(items, RECORDING, 71.0)
    assert [r.state_changes for r in results] == [0, 1, 0]
    assert store.last_heartbeat("Watchdog") == 70.0


def test_a_firing_copy_after_the_resolved_one_is_stale(store: SqlStore) -> None:
    """A lagging HA peer or a retry delivers the firing copy after the resolution:
    the instance stays resolved, and nobody is told it is firing again."""
    resolved = store.record_many(
        [_item(make_alert("a", status="resolved"), at=100.0)], RECORDING, 100.0
    )
    assert resolved[0].state_changes == 1
    (late,) = store.record_many([_item(make_alert("a"), at=101.0)], RECORDING, 101.0)
    assert (late.state_changes, late.stale) == (0, 1)
    assert store.incidents.list() == []
    assert {d["event_status"] for d in store.outbox.list()} == {"resolved"}
    (alert,) = store.list_alerts()
    assert alert.status == "resolved"


def test_a_firing_copy_after_the_resolved_one_in_the_same_batch_is_stale(
    store: SqlStore,
) -> None:
    batch = [
        _item(make_alert("a", status="resolved"), at=100.0),
        _item(make_alert("a"), at=101.0),
    ]
    results = store.record_many(batch, RECORDING, 102.0)
    assert [(r.state_changes, r.stale) for r in results] == [(1, 0), (0, 1)]
    assert store.incidents.list() == []
    assert {d["event_status"] for d in store.outbox.list()} == {"resolved"}


def test_the_notification_row_keeps_its_fields_but_not_the_body(any_store: SqlStore) -> None:
    """Nothing reads the JSON back (about 30 KB per 100 alerts, written on every
    notification): the row keeps what the reconcile duty and the counts read,
    and an empty body, on SQLite and PostgreSQL."""
    item = _item(make_alert("a"), make_alert("b"), at=100.0)
    any_store.record_many([item], RECORDING, 100.0)
    with any_store.engine.connect() as conn:
        row = conn.execute(select(notifications)).one()
    group_key = item.notification.groupKey
    assert (row.received_at, row.alert_count, row.group_key) == (100.0, 2, group_key)
    assert row.body == ""
