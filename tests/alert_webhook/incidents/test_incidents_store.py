"""incidents/store.py: each follow-up (a tier raised, a reminder) once, in one
transaction, with the deliveries it sends."""

from __future__ import annotations

import json

from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.delivery.routing import Target
from alert_webhook.delivery.rows import DeliveryOutcome, DeliveryStatus, NewDelivery
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore


def _receive(store: SqlStore, *alerts, at: float = 100.0) -> None:
    body = json.dumps(make_notification(*alerts)).encode()
    store.record_notification(parse_notification(body), body, at, RECORDING)


def _to(targets, purpose: str):
    def deliveries(incident):
        return lambda given: [
            NewDelivery.pending(incident.alert_id, incident.event_id, "firing", t, purpose, 500.0)
            for t in (targets if targets is not None else given)
        ]

    return deliveries


def test_an_incident_opens_with_its_severitys_deadline_and_closes_on_resolve(store) -> None:
    _receive(store, make_alert("a", severity="high"), at=100.0)
    (incident,) = store.incidents.past_deadline(100.0 + 3600, tier=1)
    assert (incident.severity, incident.opened_at, incident.tier) == ("high", 100.0, 1)
    assert store.incidents.past_deadline(100.0 + 3599, tier=1) == []
    _receive(store, make_alert("a", severity="high", status="resolved"), at=200.0)
    assert store.incidents.past_deadline(10_000.0, tier=1) == []
    assert store.incidents.list()[0]["closed_at"] == 200.0


def test_a_tier_is_raised_once_with_its_deliveries_and_flag(store) -> None:
    _receive(store, make_alert("a", severity="high"))
    (incident,) = store.incidents.past_deadline(4000.0, tier=1)
    seen: list[list[str]] = []

    def tier2(routed):
        seen.append(routed)
        return _to([Target("email", "lead@example.org")], "tier-2")(incident)(routed)

    assert store.incidents.escalate(incident, 4000.0, "escalated", tier2)
    assert not store.incidents.escalate(incident, 4001.0, "again", tier2)  # another replica
    assert seen == [["email", "dashboard"]]
    tier2_rows = [d for d in store.outbox.list() if d["purpose"] == "tier-2"]
    assert [(d["channel"], d["recipient"]) for d in tier2_rows] == [("email", "lead@example.org")]
    (row,) = store.incidents.list()
    assert (row["tier"], row["deadline_at"], row["flag"]) == (2, 4000.0, "escalated")


def test_a_reminder_goes_once_where_the_firing_message_was_delivered(store) -> None:
    _receive(store, make_alert("a"))
    for job in store.outbox.claim(100.0, "w1", 30, 10):  # sms delivered, email failed
        status = DeliveryStatus.DELIVERED if job.channel == "sms" else DeliveryStatus.FAILED
        store.outbox.finish(DeliveryOutcome(job.id, job.claim, status, 101.0))
    (incident,) = store.incidents.unacknowledged("critical", 500.0)
    remind = _to(None, "remind-1")(incident)
    assert store.incidents.remind(incident, 1, remind)
    assert not store.incidents.remind(incident, 1, remind)
    reminders = [(d["channel"], d["recipient"]) for d in store.outbox.list()
                 if d["purpose"] == "remind-1"]  # fmt: skip
    assert sorted(reminders) == [("dashboard", ""), ("sms", "+15555550100")]


def test_an_acknowledged_incident_is_no_longer_open(store) -> None:
    _receive(store, make_alert("a"))
    assert store.incidents.ack(1, "alice", 150.0)["acked_by"] == "alice"
    assert store.incidents.unacknowledged("critical", 500.0) == []
    assert store.incidents.past_deadline(10_000.0, tier=1) == []
    assert store.incidents.ack(99, "alice", 150.0) is None


# Operators' actions: resolve-as-handled and silences, the same on both stores.


def test_resolving_as_handled_closes_once_and_names_who(any_store) -> None:
    _receive(any_store, make_alert("a"), at=100.0)
    first = any_store.incidents.resolve_handled(1, "alice", "restarted the pool", 150.0)
    assert first.taken and first.incident is not None
    assert (first.incident["closed_at"], first.incident["handled_at"]) == (150.0, 150.0)
    assert (first.incident["handled_by"], first.incident["handled_note"]) == (
        "alice", "restarted the pool",
    )  # fmt: skip
    again = any_store.incidents.resolve_handled(1, "bob", "me too", 160.0)
    assert not again.taken and again.incident is not None
    assert again.incident["handled_by"] == "alice"  # the first one stands
    missing = any_store.incidents.resolve_handled(99, "alice", "x", 160.0)
    assert (missing.taken, missing.incident) == (False, None)


def test_a_handled_incident_is_neither_escalated_nor_reminded(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical"), at=100.0)
    any_store.incidents.resolve_handled(1, "alice", "done", 110.0)
    assert any_store.incidents.past_deadline(10_000.0, tier=1) == []
    assert any_store.incidents.unacknowledged("critical", 10_000.0) == []


def test_alertmanagers_later_resolution_keeps_the_handled_close(any_store) -> None:
    _receive(any_store, make_alert("a"), at=100.0)
    any_store.incidents.resolve_handled(1, "alice", "done", 150.0)
    _receive(any_store, make_alert("a"), at=170.0)  # a repeat of the same firing
    _receive(any_store, make_alert("a", status="resolved"), at=200.0)
    (row,) = any_store.incidents.list()
    assert (row["closed_at"], row["handled_at"], row["handled_by"]) == (150.0, 150.0, "alice")


def test_a_new_firing_after_handled_is_a_new_incident(any_store) -> None:
    _receive(any_store, make_alert("a"), at=100.0)
    any_store.incidents.resolve_handled(1, "alice", "done", 150.0)
    _receive(any_store, make_alert("a", starts_at="2026-11-28T10:00:00Z"), at=300.0)
    rows = {r["alert_id"]: r for r in any_store.incidents.list()}
    assert set(rows) == {1, 2}
    assert rows[2]["closed_at"] is None and rows[2]["handled_at"] is None


def test_a_silence_is_recorded_on_an_open_incident_only(any_store) -> None:
    _receive(any_store, make_alert("a"), make_alert("b"), at=100.0)
    held = any_store.incidents.record_silence(1, "s-1", 700.0, "alice")
    assert held is not None
    assert (held["silence_id"], held["silenced_until"], held["silenced_by"]) == (
        "s-1", 700.0, "alice",
    )  # fmt: skip
    any_store.incidents.resolve_handled(2, "alice", "done", 110.0)
    assert any_store.incidents.record_silence(2, "s-2", 700.0, "alice") is None
    assert any_store.incidents.record_silence(99, "s-3", 700.0, "alice") is None
    assert any_store.incidents.find(2)["silence_id"] is None


def test_a_silenced_incident_escalates_only_once_its_silence_ended(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical"), at=100.0)
    any_store.incidents.record_silence(1, "s-1", 1000.0, "alice")
    assert any_store.incidents.past_deadline(999.0, tier=1) == []
    assert any_store.incidents.unacknowledged("critical", 999.0) == []
    assert [i.alert_id for i in any_store.incidents.past_deadline(1000.0, tier=1)] == [1]
    assert [i.alert_id for i in any_store.incidents.unacknowledged("critical", 1000.0)] == [1]


def test_held_silences_are_those_of_firing_alerts_until_they_end(any_store) -> None:
    _receive(any_store, make_alert("a"), make_alert("b"), make_alert("c"), at=100.0)
    for alert_id in (1, 2, 3):
        any_store.incidents.record_silence(alert_id, f"s-{alert_id}", 1000.0, "alice")
    _receive(any_store, make_alert("b", status="resolved"), at=200.0)
    any_store.incidents.resolve_handled(3, "alice", "done", 210.0)  # its alert still fires
    held = any_store.incidents.held_silences(999.0)
    assert [(h.alert_id, h.silence_id) for h in held] == [(1, "s-1"), (3, "s-3")]
    assert held[0].labels["instance"] == "db1:9100" and held[0].fingerprint == "a"
    assert any_store.incidents.held_silences(1000.0) == []  # ended by itself
    any_store.incidents.silence_expired(1, "s-1", 300.0)
    assert any_store.incidents.find(1)["silenced_until"] == 300.0
    any_store.incidents.silence_expired(1, "s-other", 250.0)  # not the one held: unchanged
    assert any_store.incidents.find(1)["silenced_until"] == 300.0


def test_ack_open_acknowledges_only_an_open_unacknowledged_incident(any_store) -> None:
    _receive(any_store, make_alert("a"), make_alert("b", instance="db2:9100"), at=100.0)
    assert any_store.incidents.ack_open(1, "bob (email link)", 150.0)
    assert not any_store.incidents.ack_open(1, "carol (email link)", 160.0)  # first stands
    _receive(any_store, make_alert("b", instance="db2:9100", status="resolved"), at=200.0)
    assert not any_store.incidents.ack_open(2, "bob (email link)", 250.0)
    assert not any_store.incidents.ack_open(99, "bob (email link)", 250.0)
    acked = {i["alert_id"]: i["acked_by"] for i in any_store.incidents.list()}
    assert acked == {1: "bob (email link)", 2: None}
