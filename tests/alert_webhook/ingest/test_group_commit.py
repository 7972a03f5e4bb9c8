"""ingest/group_commit.py: queued notifications are committed together, answered
each by its own outcome; a failure answers only what was not committed.

Deterministic: everything runs in the test's thread (submit, then record or
run_once); the leader lock is held by hand where a busy writer is needed."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.db.outage import Outage
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.ingest.group_commit import GroupCommit
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.record import Incoming, RecordResult
from alert_webhook.store import SqlStore


def _incoming(fingerprint: str, received_at: float = 100.0, n_alerts: int = 1) -> Incoming:
    alerts = [make_alert(f"{fingerprint}-{i}" if i else fingerprint) for i in range(n_alerts)]
    body = json.dumps(make_notification(*alerts)).encode()
    return Incoming(parse_notification(body), body, received_at)


def _fp(item: Incoming) -> str:
    return item.notification.alerts[0].fingerprint


class FakeStore:
    """record_many that logs each batch; fingerprints in `bad` fail the batch."""

    def __init__(self, bad: Sequence[str] = (), down: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.bad, self.down = set(bad), down

    def __call__(self, items: Sequence[Incoming]) -> list[RecordResult]:
        self.batches.append([_fp(i) for i in items])
        if self.down:
            raise StoreUnavailable("database is locked")
        if self.bad & {_fp(i) for i in items}:
            raise ValueError("bad notification")
        return [RecordResult(len(self.batches) * 100 + n, 1, 1) for n, _ in enumerate(items)]


def test_what_queued_meanwhile_is_committed_with_the_leaders_own() -> None:
    store = FakeStore()
    writer = GroupCommit(store)
    waiting = [writer.submit(_incoming("a")), writer.submit(_incoming("b"))]
    result = writer.record(_incoming("c"))
    assert store.batches == [["a", "b", "c"]]  # one transaction, one commit
    assert [f.result(0).notification_id for f in waiting] == [100, 101]
    assert result.notification_id == 102


def test_a_request_whose_notification_an_earlier_leader_wrote_records_nothing() -> None:
    store = FakeStore()
    writer = GroupCommit(store)
    future = writer.submit(_incoming("a"))
    assert writer.run_once() == 1  # an earlier leader took it
    assert future.result(0).notification_id == 100
    assert writer.run_once() == 0 and store.batches == [["a"]]


def test_one_bad_notification_fails_only_itself() -> None:
    store = FakeStore(bad=["bad"])
    writer = GroupCommit(store)
    good = writer.submit(_incoming("good"))
    bad = writer.submit(_incoming("bad"))
    last = writer.submit(_incoming("last"))
    writer.run_once()
    # The batch failed whole (nothing committed), then each was recorded alone.
    assert store.batches == [["good", "bad", "last"], ["good"], ["bad"], ["last"]]
    assert good.result(0).notification_id == 200
    assert last.result(0).notification_id == 400
    with pytest.raises(ValueError, match="bad notification"):
        bad.result(0)


def test_store_unavailable_answers_the_whole_batch_without_retrying_each() -> None:
    store = FakeStore(down=True)
    writer = GroupCommit(store)
    queued = writer.submit(_incoming("a"))
    with pytest.raises(StoreUnavailable):
        writer.record(_incoming("b"))
    with pytest.raises(StoreUnavailable):
        queued.result(0)
    assert store.batches == [["a", "b"]]


def test_a_batch_closes_at_max_alerts() -> None:
    store = FakeStore()
    writer = GroupCommit(store, max_alerts=100)
    for fp in ("a", "b", "c"):
        writer.submit(_incoming(fp, n_alerts=50))
    assert writer.run_once() == 2 and writer.run_once() == 1
    assert store.batches == [["a", "b"], ["c"]]


def test_a_request_that_cannot_become_leader_in_time_is_503_and_never_written() -> None:
    store = FakeStore()
    writer = GroupCommit(store, wait_seconds=0)
    writer._leader.acquire()  # another request is writing and does not finish in time
    try:
        with pytest.raises(StoreUnavailable, match="overloaded"):
            writer.record(_incoming("late"))
    finally:
        writer._leader.release()
    assert writer.run_once() == 0 and store.batches == []  # its future was cancelled


def test_batch_sizes_are_observed() -> None:
    sizes: list[int] = []
    writer = GroupCommit(FakeStore(), observe=sizes.append)
    writer.submit(_incoming("a"))
    writer.record(_incoming("b"))
    writer.record(_incoming("c"))
    assert sizes == [2, 1]


def test_a_real_batch_gives_each_notification_its_own_id(store: SqlStore) -> None:
    writer = GroupCommit(lambda items: store.record_many(items, RECORDING, 300.0))
    first = writer.submit(_incoming("x", received_at=100.0))
    second = writer.submit(_incoming("y", received_at=200.0))
    writer.run_once()
    ids = [first.result(0).notification_id, second.result(0).notification_id]
    assert ids[0] < ids[1]
    by_id = {a.last_notification_id: a.fingerprint for a in _alert_rows(store)}
    assert by_id == {ids[0]: "x", ids[1]: "y"}
    assert [f.result(0).state_changes for f in (first, second)] == [1, 1]


def _alert_rows(store: SqlStore):
    from alert_webhook.db.schema import alerts

    with store.engine.connect() as conn:
        return list(conn.execute(alerts.select()))


def test_while_the_store_is_down_a_request_does_not_wait_behind_a_write() -> None:
    outage = Outage(clock=lambda: 0.0)
    outage.failed("server closed the connection unexpectedly")
    store = FakeStore()
    writer = GroupCommit(store, wait_seconds=30, outage=outage)
    writer._leader.acquire()  # a write under way, waiting on the hung store
    try:
        with pytest.raises(StoreUnavailable, match="unavailable"):
            writer.record(_incoming("a"))  # at once: wait_seconds is not spent
    finally:
        writer._leader.release()
    assert store.batches == [] and outage.refused == 2


def test_a_failed_batch_fails_what_queued_meanwhile_too() -> None:
    writer = GroupCommit(FakeStore(down=True))
    queued_later = writer.submit(_incoming("late"))
    with pytest.raises(StoreUnavailable):
        writer.record(_incoming("a"))
    assert isinstance(queued_later.exception(0), StoreUnavailable)


def test_past_max_inside_a_request_hears_503_once_the_write_is_slow() -> None:
    now = [10.0]
    store = FakeStore()
    writer = GroupCommit(store, max_inside=1, stall_seconds=0.5, clock=lambda: now[0])
    writer.place_poll_seconds = 0  # no real wait for a place
    writer._inside.acquire()  # type: ignore[union-attr]  # one request already waits
    writer._writing_since = 9.0  # behind a write begun a second ago
    try:
        with pytest.raises(StoreUnavailable, match="1 notifications already wait"):
            writer.record(_incoming("a"))
    finally:
        writer._inside.release()  # type: ignore[union-attr]
        writer._writing_since = None
    assert store.batches == []
    assert writer.record(_incoming("b")).notification_id == 100


def test_past_max_inside_a_request_hears_503_while_the_store_is_down() -> None:
    outage = Outage(clock=lambda: 0.0)
    outage.failed("timeout")
    writer = GroupCommit(FakeStore(), max_inside=1, outage=outage)
    writer.place_poll_seconds = 0
    writer._inside.acquire()  # type: ignore[union-attr]
    try:
        with pytest.raises(StoreUnavailable, match="unavailable"):
            writer.record(_incoming("a"))
    finally:
        writer._inside.release()  # type: ignore[union-attr]
