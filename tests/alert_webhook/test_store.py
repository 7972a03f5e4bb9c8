"""store.py: a notification is committed whole or not at all; repeats collapse."""

from __future__ import annotations

import json

import pytest
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.db.schema import deliveries
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.planners import Recording
from alert_webhook.store import SqlStore, open_store


@pytest.fixture
def store(any_store):
    """Each test here runs on SQLite and on PostgreSQL: the same input, the same answer."""
    return any_store


def _record(store: SqlStore, data: dict, now: float = 100.0):
    body = json.dumps(data).encode()
    return store.record_notification(parse_notification(body), body, now)


def test_first_notification_is_one_state_change_per_alert(store: SqlStore) -> None:
    result = _record(store, make_notification(make_alert("a"), make_alert("b")))
    assert (result.alerts, result.state_changes) == (2, 2)
    assert store.count("notifications") == 1
    assert store.count("alert_events") == 2


def test_repeats_and_ha_copies_collapse_into_one_state_change(store: SqlStore) -> None:
    data = make_notification(make_alert("a"))
    assert _record(store, data, 100).state_changes == 1
    for now in (160, 161, 3700):  # retry, HA peer, repeat_interval
        assert _record(store, data, now).state_changes == 0
    assert store.count("alert_events") == 1
    (record,) = store.list_alerts()
    assert record.first_received_at == 100 and record.last_received_at == 3700


def test_resolve_is_a_second_change_and_a_late_firing_copy_does_not_undo_it(
    store: SqlStore,
) -> None:
    _record(store, make_notification(make_alert("a")), 100)
    assert (
        _record(store, make_notification(make_alert("a", status="resolved")), 200).state_changes
        == 1
    )
    assert _record(store, make_notification(make_alert("a")), 201).state_changes == 0
    (record,) = store.list_alerts()
    assert record.status == "resolved"
    assert store.list_alerts(status="firing") == []


def test_a_new_start_of_the_same_alert_is_a_new_instance(store: SqlStore) -> None:
    _record(store, make_notification(make_alert("a")), 100)
    _record(store, make_notification(make_alert("a", status="resolved")), 200)
    again = make_alert("a", starts_at="2026-11-28T10:00:00Z")
    assert _record(store, make_notification(again), 300).state_changes == 1
    assert [r.status for r in store.list_alerts()] == ["firing", "resolved"]


def test_list_alerts_returns_labels_and_annotations(store: SqlStore) -> None:
    _record(store, make_notification(make_alert("a", severity="high", team="db")))
    (record,) = store.list_alerts(status="firing")
    data = record.to_json()
    assert data["labels"]["team"] == "db" and data["severity"] == "high"
    assert data["annotations"]["summary"] == "DemoServiceDown on db1"
    assert data["startsAt"].startswith("2026-11-28T09:03:31")


class _FailingPlanner:
    def plan(self, conn, changes, now, tally) -> None:
        raise StoreUnavailable("disk went away")


def test_failure_mid_notification_stores_nothing(store: SqlStore) -> None:
    """A planner failing after the others wrote incidents and deliveries undoes all."""
    data = make_notification(make_alert("a"), make_alert("b"))
    recording = Recording((*RECORDING.planners, _FailingPlanner()))
    body = json.dumps(data).encode()
    with pytest.raises(StoreUnavailable):
        store.record_notification(parse_notification(body), body, 100.0, recording)
    for table in ("notifications", "alerts", "alert_events", "deliveries", "incidents"):
        assert store.count(table) == 0, table


def test_unreachable_database_is_store_unavailable(tmp_path) -> None:
    (tmp_path / "dir").mkdir()
    store = open_store(f"sqlite:///{tmp_path}/dir")  # a folder is not a database
    assert store.ping() is False
    with pytest.raises(StoreUnavailable):
        store.create_schema()
    store.dispose()


def _planned(store: SqlStore, data: dict, now: float = 100.0):
    body = json.dumps(data).encode()
    return store.record_notification(parse_notification(body), body, now, RECORDING)


def _deliveries(store: SqlStore) -> list[tuple[str, str, str, str]]:
    rows = store.outbox.list()
    return sorted((r["event_status"], r["channel"], r["recipient"], r["status"]) for r in rows)


def test_a_critical_state_change_becomes_one_delivery_per_channel_and_person(store) -> None:
    _planned(store, make_notification(make_alert("a", severity="critical")))
    assert _deliveries(store) == [
        ("firing", "dashboard", "", "delivered"),  # the store is the dashboard's transport
        ("firing", "email", "oncall@example.org", "pending"),
        ("firing", "sms", "+15555550100", "pending"),
    ]
    assert store.count("incidents") == 1


def test_repeats_create_no_more_deliveries(store) -> None:
    data = make_notification(make_alert("a", severity="high"))
    for now in (100, 130, 3700):
        _planned(store, data, now)
    assert len(_deliveries(store)) == 2


def test_resolved_goes_to_the_channels_that_carried_the_firing_one(store) -> None:
    _planned(store, make_notification(make_alert("a", severity="critical")))
    with store.engine.begin() as conn:  # SMS was skipped (say, over budget)
        conn.execute(
            deliveries.update().where(deliveries.c.channel == "sms").values(status="skipped")
        )
    _planned(store, make_notification(make_alert("a", severity="critical", status="resolved")), 200)
    resolved = [d for d in _deliveries(store) if d[0] == "resolved"]
    assert [d[1] for d in resolved] == ["dashboard", "email"]


def test_resolved_without_a_firing_record_is_routed_by_severity(store) -> None:
    _planned(store, make_notification(make_alert("a", severity="medium", status="resolved")))
    assert _deliveries(store) == [("resolved", "dashboard", "", "delivered")]


def test_watchdog_is_a_heartbeat_not_an_alert(store) -> None:
    _planned(store, make_notification(make_alert("w", alertname="Watchdog", severity="none")), 50)
    assert store.count("alerts") == 0 and _deliveries(store) == []
    assert store.last_heartbeat("Watchdog") == 50
    _planned(store, make_notification(make_alert("w", alertname="Watchdog", severity="none")), 80)
    assert store.last_heartbeat("Watchdog") == 80


def test_new_and_repeated_alerts_in_one_notification(store: SqlStore) -> None:
    _planned(store, make_notification(make_alert("a", severity="medium")))
    result = _planned(
        store,
        make_notification(
            make_alert("a", severity="medium"),
            make_alert("b", severity="medium"),
            make_alert("b", severity="medium"),  # the same alert twice in one body
        ),
        200,
    )
    assert (result.alerts, result.state_changes) == (3, 1)
    assert _deliveries(store) == [("firing", "dashboard", "", "delivered")] * 2
