"""Scale-out on real PostgreSQL: replicas sharing the store record each state change
once and never claim one delivery twice. Skipped where PostgreSQL 15 is absent."""

from __future__ import annotations

import functools
import json

import pytest
from support import postgres
from webhook_support import RECORDING, concurrently, make_alert, make_notification

from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import open_store

pytestmark = pytest.mark.integration


@pytest.fixture
def replicas(pg_url):
    stores = [open_store(pg_url) for _ in range(2)]
    yield stores
    with stores[0].engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {postgres.TABLES} RESTART IDENTITY")
    for s in stores:
        s.dispose()


def _record(store, data: dict, now: float) -> int:
    body = json.dumps(data).encode()
    return store.record_notification(parse_notification(body), body, now, RECORDING).state_changes


def test_ha_copies_at_two_replicas_make_one_state_change(replicas) -> None:
    a, b = replicas
    for round_ in range(10):
        data = make_notification(*(make_alert(f"r{round_}-{i}") for i in range(20)))
        changes = concurrently(*(functools.partial(_record, s, data, 100.0) for s in (a, b)))
        assert sum(changes) == 20, changes
    assert a.count("alert_events") == 200
    assert a.count("deliveries") == 200 * 3  # sms, email, dashboard per critical alert
    assert a.count("incidents") == 200


def test_two_replicas_never_claim_the_same_delivery(replicas) -> None:
    a, b = replicas
    _record(a, make_notification(*(make_alert(f"c{i}") for i in range(100))), 100.0)
    claimed: list[list[int]] = [[], []]

    def drain(store, out):
        def run():
            while jobs := store.outbox.claim(101.0, "w", lease=30, limit=7):
                out.extend(j.id for j in jobs)

        return run

    concurrently(drain(a, claimed[0]), drain(b, claimed[1]))
    assert not set(claimed[0]) & set(claimed[1])
    # sms and email per alert; the dashboard's were written as delivered at once
    assert len(claimed[0]) + len(claimed[1]) == 200


def test_resolved_and_late_firing_copy_on_postgresql(replicas) -> None:
    a, b = replicas
    _record(a, make_notification(make_alert("x")), 100.0)
    assert _record(b, make_notification(make_alert("x", status="resolved")), 200.0) == 1
    assert _record(a, make_notification(make_alert("x")), 201.0) == 0
    assert [r.status for r in b.list_alerts()] == ["resolved"]


def test_two_replicas_send_each_sms_once(replicas) -> None:
    from fakes import TWILIO_ENV, fake_twilio, twilio_provider
    from webhook_support import worker_for

    from alert_webhook.config.settings import settings_from_mapping
    from alert_webhook.metrics.registry import create_metrics

    with fake_twilio() as twilio:
        config = {"channels": {"sms": {"providers": [twilio_provider(twilio)],
                                       "recipients": ["+15555550100"],
                                       "budget": {"max_messages": 1000}}}}  # fmt: skip
        settings = settings_from_mapping(config, TWILIO_ENV)
        workers = [
            worker_for(s, settings, create_metrics(), lambda: 1000.0, worker_id=f"replica{i}")
            for i, s in enumerate(replicas)
        ]
        alerts = [make_alert(f"s{i}", instance=f"h{i}:9100") for i in range(30)]
        _record(replicas[0], make_notification(*alerts), 999.0)
        _record(replicas[1], make_notification(*alerts), 999.0)  # the HA peer's copy

        def drain(worker):
            def run():
                while worker.run_once():
                    pass

            return run

        concurrently(*(drain(w) for w in workers))
        bodies = [m["Body"] for m in twilio.received]
    assert len(bodies) == 30 and len(set(bodies)) == 30


def test_a_batch_on_postgresql_keeps_each_notification_and_change_apart(replicas) -> None:
    from alert_webhook.ingest.record import Incoming

    a, _b = replicas
    bodies = [
        json.dumps(make_notification(make_alert(fp, severity="medium"))).encode()
        for fp in ("p", "q", "p")  # q between two copies of p
    ]
    items = [Incoming(parse_notification(raw), raw, 100.0 + i) for i, raw in enumerate(bodies)]
    results = a.record_many(items, RECORDING, 110.0)
    assert [r.state_changes for r in results] == [1, 1, 0]
    assert [r.stored_deliveries for r in results] == [1, 1, 0]  # the dashboard's
    ids = [r.notification_id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 3
    latest = {r.fingerprint: r.last_received_at for r in a.list_alerts()}
    assert latest == {"p": 102.0, "q": 101.0}


def test_a_late_firing_copy_after_the_resolution_is_stale_on_postgresql(replicas) -> None:
    a, b = replicas
    assert _record(a, make_notification(make_alert("s", status="resolved")), 100.0) == 1
    assert _record(b, make_notification(make_alert("s")), 101.0) == 0
    assert b.incidents.list() == []
    assert {d["event_status"] for d in b.outbox.list()} == {"resolved"}
