"""store/incidents.py: each follow-up (a tier raised, a reminder) once, in one
transaction, with the deliveries it sends."""

from __future__ import annotations

import json

from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.payload import parse_notification
from alert_webhook.routing import Target
from alert_webhook.store import DeliveryStatus, NewDelivery, Outcome, SqlStore


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
        store.outbox.finish(Outcome(job.id, job.claim, status, 101.0))
    (incident,) = store.incidents.unacknowledged("critical")
    remind = _to(None, "remind-1")(incident)
    assert store.incidents.remind(incident, 1, remind)
    assert not store.incidents.remind(incident, 1, remind)
    reminders = [(d["channel"], d["recipient"]) for d in store.outbox.list()
                 if d["purpose"] == "remind-1"]  # fmt: skip
    assert sorted(reminders) == [("dashboard", ""), ("sms", "+15555550100")]


def test_an_acknowledged_incident_is_no_longer_open(store) -> None:
    _receive(store, make_alert("a"))
    assert store.incidents.ack(1, "alice", 150.0)["acked_by"] == "alice"
    assert store.incidents.unacknowledged("critical") == []
    assert store.incidents.past_deadline(10_000.0, tier=1) == []
    assert store.incidents.ack(99, "alice", 150.0) is None
