"""delivery/outbox.py and db/lease.py: claims under a lease, outcomes only from the
lease holder, and a whole escalation in one transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.delivery.outbox import Lane
from alert_webhook.delivery.routing import Target
from alert_webhook.delivery.rows import DeliveryOutcome, DeliveryStatus, NewDelivery, Purpose
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore

DELIVERED = DeliveryStatus.DELIVERED


def _receive(store: SqlStore, *alerts, at: float = 100.0) -> None:
    body = json.dumps(make_notification(*alerts)).encode()
    store.record_notification(parse_notification(body), body, at, RECORDING)


def _transactions(store: SqlStore) -> list[object]:
    begun: list[object] = []
    event.listen(store.engine, "begin", begun.append)
    return begun


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_record(store) -> None:
    _receive(store, make_alert("a", severity="high"))  # email: worked by a worker
    (job,) = store.outbox.claim(100.0, "crashed", lease=30, limit=10)
    assert store.outbox.claim(100.0, "w1", lease=30, limit=10) == []
    (again,) = store.outbox.claim(131.0, "w1", lease=30, limit=10)
    assert again.id == job.id and again.attempts == 2
    assert not store.outbox.finish(DeliveryOutcome(job.id, job.claim, DELIVERED, 131.0))
    assert store.outbox.finish(DeliveryOutcome(again.id, again.claim, DELIVERED, 131.0, "relay1"))
    (row,) = [d for d in store.outbox.list() if d["channel"] == "email"]
    assert (row["status"], row["provider"], row["claimed_until"]) == ("delivered", "relay1", None)


def test_finish_many_records_what_we_still_own_in_one_transaction(store) -> None:
    _receive(store, make_alert("a"), make_alert("b"))  # sms + email each
    jobs = store.outbox.claim(100.0, "w1", lease=30, limit=10)
    assert len(jobs) == 4
    stolen = store.outbox.claim(200.0, "w2", lease=30, limit=1)  # one lease ran out
    begun = _transactions(store)
    outcomes = [
        DeliveryOutcome(j.id, j.claim, DeliveryStatus.SKIPPED, 201.0, note="n") for j in jobs
    ]
    assert store.outbox.finish_many(outcomes) == 3
    assert len(begun) == 1
    states = {d["id"]: d["status"] for d in store.outbox.list() if d["channel"] != "dashboard"}
    assert states.pop(stolen[0].id) == "in_flight"
    assert set(states.values()) == {"skipped"}


def test_an_outcome_is_a_final_state() -> None:
    with pytest.raises(ValueError, match="final"):
        DeliveryOutcome(1, "c", DeliveryStatus.PENDING, 0.0)


def test_retry_later_refunds_an_attempt_that_tried_no_provider(store) -> None:
    _receive(store, make_alert("a", severity="high"))
    (job,) = store.outbox.claim(100.0, "w1", lease=30, limit=10)
    assert store.outbox.retry_later(job, 150.0, "relay1: circuit open", refund_attempt=True)
    assert store.outbox.claim(149.0, "w1", lease=30, limit=10) == []
    (again,) = store.outbox.claim(150.0, "w1", lease=30, limit=10)
    assert again.attempts == 1  # the refunded claim did not count


def _failover_to_email_and_dashboard(job, now):
    def failover(routed: list[str]) -> list[NewDelivery]:
        assert routed == ["sms", "email", "dashboard"]  # in the order they were routed
        return [
            NewDelivery.pending(job.alert_id, job.event_id, "firing", Target(c, r),
                                Purpose.FAILOVER.of("sms"), now, "sms delivery failed")
            for c, r in (("email", "lead@example.org"), ("dashboard", ""))
        ]  # fmt: skip

    return failover


def test_an_escalation_is_one_transaction_that_fails_over_and_flags(store) -> None:
    _receive(store, make_alert("a"))
    sms = next(j for j in store.outbox.claim(100.0, "w1", 30, 10) if j.channel == "sms")
    begun = _transactions(store)
    status = store.outbox.escalate(
        sms, 101.0, "twilio1: HTTP 400", "sms failed", _failover_to_email_and_dashboard(sms, 101.0)
    )
    assert status == DeliveryStatus.ESCALATED and len(begun) == 1
    rows = {(d["channel"], d["purpose"]): d for d in store.outbox.list()}
    assert rows[("sms", "notify")]["status"] == "escalated"
    assert rows[("sms", "notify")]["last_error"] == "twilio1: HTTP 400"
    assert rows[("email", "failover:sms")]["recipient"] == "lead@example.org"
    assert rows[("dashboard", "failover:sms")]["status"] == "pending"
    assert store.incidents.list()[0]["flag"] == "sms failed"
    # The failover rows were ranked like the alert's own (read from it, not planned).
    assert {d["severity_rank"] for d in store.outbox.list()} == {0}  # critical


def test_an_escalation_whose_lease_was_lost_writes_nothing(store) -> None:
    _receive(store, make_alert("a"))
    sms = next(j for j in store.outbox.claim(100.0, "w1", 30, 10) if j.channel == "sms")
    store.outbox.claim(200.0, "w2", 30, 10)  # the lease ran out and another worker has it
    before = store.outbox.list()
    status = store.outbox.escalate(
        sms, 201.0, "boom", "sms failed", _failover_to_email_and_dashboard(sms, 201.0)
    )
    assert status is None
    assert store.outbox.list() == before
    assert store.incidents.list()[0]["flag"] is None


def test_an_escalation_with_nowhere_to_go_is_failed(store) -> None:
    _receive(store, make_alert("a", severity="high"))
    email = next(j for j in store.outbox.claim(100.0, "w1", 30, 10) if j.channel == "email")
    assert store.outbox.escalate(email, 101.0, "e", "f", lambda routed: []) == "failed"


def test_sent_times_lists_delivered_messages_oldest_first_with_their_notes(store) -> None:
    _receive(store, make_alert("a"), make_alert("b"))
    jobs = [j for j in store.outbox.claim(100.0, "w1", 30, 10) if j.channel == "sms"]
    store.outbox.finish(DeliveryOutcome(jobs[1].id, jobs[1].claim, DELIVERED, 110.0, "t"))
    store.outbox.finish(
        DeliveryOutcome(jobs[0].id, jobs[0].claim, DELIVERED, 100.0, "t", "storm digest")
    )
    recipient = jobs[0].recipient
    assert store.outbox.sent_times("sms", recipient, 90.0) == [
        (100.0, "storm digest"),
        (110.0, None),
    ]
    assert store.outbox.sent_times("sms", recipient, 105.0) == [(110.0, None)]
    assert store.outbox.sent_times("email", recipient, 90.0) == []


def test_backlog_counts_what_is_not_final_and_the_age_of_the_oldest(store) -> None:
    assert store.outbox.backlog(100.0) == (0, 0.0)
    _receive(store, make_alert("a"), at=100.0)
    _receive(store, make_alert("b"), at=105.0)
    assert store.outbox.backlog(110.0) == (4, 10.0)  # sms + email each; dashboards are final


def test_a_lane_claims_only_its_channels_and_the_shared_lane_the_rest(store) -> None:
    _receive(store, make_alert("a"), make_alert("b", severity="low"))  # sms, email; log
    sms = store.outbox.claim(100.0, "w1", 30, 10, Lane("deliveries:sms", ("sms",)))
    shared = Lane("deliveries", ("sms", "email"), others=True)
    rest = store.outbox.claim(100.0, "w2", 30, 10, shared)
    assert [j.channel for j in sms] == ["sms"]
    assert [j.channel for j in rest] == ["log"]  # not the email: it has its own lane
    (email,) = store.outbox.claim(100.0, "w3", 30, 10, Lane("deliveries:email", ("email",)))
    assert email.channel == "email"


def _vm_steps(store: SqlStore) -> list[int]:
    """SQLite virtual-machine instructions run in the store's transactions, in
    thousands: what a statement costs, whatever the machine's speed."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    event.listen(
        store.engine,
        "begin",
        lambda conn: conn.connection.driver_connection.set_progress_handler(count, 1000),
    )
    return steps


def test_a_claim_costs_the_batch_it_takes_not_the_backlog_behind_it(store) -> None:
    # After an outage thousands of deliveries wait: claiming a batch must not sort
    # them all each time, or draining the backlog slows with its size.
    def wait(n: int, tag: str) -> None:
        _receive(store, *(make_alert(f"{tag}{i}", severity="low") for i in range(n)))  # log

    wait(100, "small")
    steps = _vm_steps(store)
    assert len(store.outbox.claim(100.0, "w1", lease=30, limit=5)) == 5
    small = steps[0]
    wait(3000, "big")
    steps[0] = 0
    assert len(store.outbox.claim(100.0, "w1", lease=30, limit=5)) == 5
    assert steps[0] < 2 * small + 2, (small, steps[0])


def _query_plans(store: SqlStore, action) -> list[str]:
    """SQLite's query plan of each statement `action` runs, one line each."""
    run: list[str] = []
    traced: list[Any] = []

    def trace(conn) -> None:
        traced.append(conn.connection.driver_connection)
        traced[-1].set_trace_callback(run.append)

    event.listen(store.engine, "begin", trace)
    try:
        action()
    finally:
        event.remove(store.engine, "begin", trace)
        for driver_connection in traced:  # pooled: the rest of the test runs on them
            driver_connection.set_trace_callback(None)
    statements = [sql for sql in run if sql.lstrip().upper().startswith(("SELECT", "UPDATE"))]
    with store.engine.connect() as conn:
        return [
            " / ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in statements
        ]


def test_claims_and_the_backlog_read_a_due_index_of_unsettled_deliveries_only(store) -> None:
    # The dashboard's deliveries are written delivered, and the history only
    # grows: the due index holds the deliveries still to settle, and the claim
    # and the backlog gauge read them off it rather than off the whole table.
    _receive(store, *(make_alert(f"a{i}", severity="low") for i in range(50)))  # log
    with store.engine.connect() as conn:
        partial = {row[1]: row[4] for row in conn.exec_driver_sql("PRAGMA index_list(deliveries)")}
    assert partial["ix_deliveries_due_by_severity"] == 1

    claims = _query_plans(store, lambda: store.outbox.claim(100.0, "w1", lease=30, limit=5))
    backlog = _query_plans(store, lambda: store.outbox.backlog(100.0))

    plans = claims + backlog
    assert len(plans) == 3 and all("ix_deliveries_due_by_severity" in p for p in plans), plans
    assert "SCAN deliveries" not in " ".join(plans), plans
    # Each severity's pending rows are a range of the index, read in due order: the
    # claim sorts only the few rows those reads and the lapsed leases hand it.
    (claim, *_) = claims
    ranged = "SEARCH deliveries USING COVERING INDEX ix_deliveries_due_by_severity " + (
        "(status=? AND severity_rank=? AND next_attempt_at<?)"
    )
    assert claim.count(ranged) == 5, claim  # critical, high, medium, low, any other
    assert claim.count("TEMP B-TREE") == 1, claim  # the batch's own order only


def test_a_critical_is_claimed_in_the_next_batch_ahead_of_a_backlog_of_highs(store) -> None:
    # The probe's burst: 20 messages/s in the email lane, and a critical waited
    # behind every `high` before it. A lane claims by severity, then by age.
    email = Lane("deliveries:email", ("email",))
    _receive(store, *(make_alert(f"h{i}", severity="high") for i in range(300)), at=100.0)
    store.outbox.claim(100.0, "w1", lease=30, limit=20, lane=email)  # the lane is busy
    _receive(store, make_alert("crit", severity="critical"), at=101.0)
    batch = store.outbox.claim(101.0, "w1", lease=30, limit=20, lane=email)
    assert batch[0].severity == "critical", [j.severity for j in batch]
    assert len(batch) == 20 and all(j.severity == "high" for j in batch[1:])


def test_within_one_severity_the_oldest_due_goes_first_and_expired_leases_by_severity(
    store,
) -> None:
    low = Lane("log", ("log",))
    _receive(store, make_alert("old", severity="low"), at=100.0)
    _receive(store, make_alert("new", severity="low"), at=105.0)
    first, second = store.outbox.claim(110.0, "w1", lease=30, limit=2, lane=low)
    assert (first.received_at, second.received_at) == (100.0, 105.0)
    # Both leases ran out (their worker died); a critical's email waits as well.
    _receive(store, make_alert("crit", severity="critical"), at=150.0)
    claimed = store.outbox.claim(150.0, "w2", lease=30, limit=10)
    assert [j.severity for j in claimed][:2] == ["critical", "critical"]  # sms, email
    assert [j.received_at for j in claimed[2:]] == [100.0, 105.0]
