"""fleet/pauses.py on both stores: a trip is one guarded write with its page, so
two replicas tripping at once pause once and page once; a resume is recorded
with who and when; `resume_after` is recorded lifted at its due time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from webhook_support import CONTACTS, concurrently, make_alert, make_notification

from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.schema import alert_events, deliveries
from alert_webhook.delivery.routing import Router
from alert_webhook.fleet.breaker import Pause, Trip
from alert_webhook.fleet.pauses import AUTOMATIC, FleetPauses
from alert_webhook.fleet.pausing import BreakerPage
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.remediation.guardrails import Attempt
from alert_webhook.store import SqlStore, open_store

NOW = 1_800_000_000.0
TRIP = Trip("max_hosts", "acting on host-3 would make 3 hosts acted on", (
    Attempt("restart", "host=host-1", NOW - 5, "failed", "host-1", 1),
), 600.0, 1, 1, ("host-1", "host-2"), "host-3")  # fmt: skip
PAGE = BreakerPage(Router(settings_from_mapping(CONTACTS, {}).routing,
                          settings_from_mapping(CONTACTS, {}).channels),
                   frozenset({"dashboard"}))  # fmt: skip


@pytest.fixture
def store(any_store):
    return any_store


def alert_event(store: SqlStore) -> tuple[int, int]:
    body = json.dumps(make_notification(make_alert("a"))).encode()
    store.record_notification(parse_notification(body), body, NOW)
    with store.tx.read() as conn:
        row = conn.execute(select(alert_events.c.alert_id, alert_events.c.id)).one()
    return row.alert_id, row.id


def paging(alert_id: int, event_id: int, text: str = "paused"):
    def page(pause: Pause):
        return PAGE.rows(text, alert_id, event_id, f"fleet-breaker-{pause.id}", NOW)

    return page


def pages(store: SqlStore) -> list[tuple[str, str, str]]:
    with store.tx.read() as conn:
        rows = conn.execute(
            select(deliveries.c.purpose, deliveries.c.channel, deliveries.c.status)
            .where(deliveries.c.purpose.like("fleet-breaker-%"))
            .order_by(deliveries.c.id)
        )  # fmt: skip
        return [tuple(r) for r in rows]


def test_a_trip_writes_the_pause_and_its_page_together(store) -> None:
    pauses = FleetPauses(store.tx, store.engine.dialect)
    assert pauses.latest() is None
    pause, won = pauses.trip(TRIP, NOW, None, paging(*alert_event(store)))
    assert won and pause == pauses.latest()
    assert (pause.tripped_at, pause.limit, pause.reason) == (NOW, "max_hosts", TRIP.reason)
    assert (
        pause.evidence["hosts"] == ["host-1", "host-2"] and pause.evidence["next_host"] == "host-3"
    )
    assert pause.evidence["runs"][0]["id"] == 1
    # critical's channels, as CONTACTS routes them: SMS and email to the one on call
    purpose = f"fleet-breaker-{pause.id}"
    assert pages(store) == [
        (purpose, "sms", "pending"), (purpose, "email", "pending"),
        (purpose, "dashboard", "delivered"),
    ]  # fmt: skip


def test_a_page_that_cannot_be_written_leaves_no_pause(store) -> None:
    pauses = FleetPauses(store.tx, store.engine.dialect)

    def broken(pause: Pause):
        raise RuntimeError("page")

    with pytest.raises(RuntimeError):
        pauses.trip(TRIP, NOW, None, broken)
    assert pauses.latest() is None


def test_a_second_trip_while_paused_writes_nothing(store) -> None:
    pauses = FleetPauses(store.tx, store.engine.dialect)
    page = paging(*alert_event(store))
    first, _ = pauses.trip(TRIP, NOW, None, page)
    again, won = pauses.trip(TRIP, NOW + 1, None, page)
    assert (again, won) == (first, False)
    assert len(pages(store)) == 3


def test_two_stores_on_one_sqlite_file_trip_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    one, two = open_store(url), open_store(url)
    try:
        one.create_schema()
        page = paging(*alert_event(one))
        a, b = (FleetPauses(s.tx, s.engine.dialect) for s in (one, two))
        (pa, won_a), (pb, won_b) = concurrently(
            lambda: a.trip(TRIP, NOW, None, page), lambda: b.trip(TRIP, NOW, None, page)
        )
        assert sorted([won_a, won_b]) == [False, True]
        assert pa == pb  # the loser reads the winner's pause
        assert len(pages(one)) == 3  # one page: one message per channel and person
    finally:
        one.dispose()
        two.dispose()


def test_a_resume_is_recorded_once_with_who_and_when(store) -> None:
    pauses = FleetPauses(store.tx, store.engine.dialect)
    assert pauses.resume("alice", NOW) is None  # never paused
    pause, _ = pauses.trip(TRIP, NOW, None, paging(*alert_event(store)))
    resumed = pauses.resume("alice", NOW + 60)
    assert resumed is not None
    assert (resumed.id, resumed.resumed_at, resumed.resumed_by) == (pause.id, NOW + 60, "alice")
    assert pauses.resume("bob", NOW + 61) is None
    # a new trip may hold once the last one was lifted
    second, won = pauses.trip(TRIP, NOW + 120, None, paging(*alert_event_ids(store)))
    assert won and second.id != pause.id
    assert [p.id for p in pauses.list()] == [second.id, pause.id]


def alert_event_ids(store: SqlStore) -> tuple[int, int]:
    with store.tx.read() as conn:
        row = conn.execute(select(alert_events.c.alert_id, alert_events.c.id)).first()
    assert row is not None
    return row.alert_id, row.id


def test_resume_after_is_recorded_lifted_when_it_was_due(store) -> None:
    pauses = FleetPauses(store.tx, store.engine.dialect)
    pause, _ = pauses.trip(TRIP, NOW, None, paging(*alert_event(store)), resume_after=900)
    assert not pauses.settle(NOW + 899, 900)
    assert pauses.settle(NOW + 1000, 900)
    lifted = pauses.latest()
    assert lifted is not None
    assert (lifted.resumed_at, lifted.resumed_by) == (NOW + 900, AUTOMATIC)
    assert pauses.resume("alice", NOW + 1001, 900) is None  # nothing left to resume
    # a trip after the due time finds the place free even when nobody settled it
    again, _ = pauses.trip(TRIP, NOW + 2000, None, paging(*alert_event_ids(store)), 900)
    third, won = pauses.trip(TRIP, NOW + 3000, None, paging(*alert_event_ids(store)), 900)
    assert won and third.id != again.id != pause.id
