"""incidents/flapping.py and flapping_end.py: an alert changing state more than
`max_changes` times in `window_seconds` sends one notice and no more until it
has held one state for `hold_seconds`; then people are told once. Time is a
number the tests pick: nothing waits."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from webhook_support import CONTACTS, FakeClock, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.rows import HUSHED
from alert_webhook.incidents.flapping import flapping_note, span, stopped_note
from alert_webhook.incidents.flapping_end import FlappingCollector, FlappingEnd
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.planners import Recording
from alert_webhook.ingest.record import Incoming
from alert_webhook.store import SqlStore, open_store

FLAPPING = {"max_changes": 4, "window_seconds": 1800, "hold_seconds": 600}
T0 = 1_800_000_000.0


def _recording(**flapping: Any) -> Recording:
    settings = settings_from_mapping(
        {**CONTACTS, "incidents": {"flapping": {**FLAPPING, **flapping}}}, {}
    )
    return recording_from(settings, ["dashboard"])


def _change(store: SqlStore, recording: Recording, n: int, at: float, fp: str = "fp1") -> None:
    """State change number `n` (0-based) of alert `fp`: even ones fire instance n//2,
    odd ones resolve it."""
    status = "firing" if n % 2 == 0 else "resolved"
    starts = f"2026-11-28T09:{n // 2:02d}:00Z"
    body = json.dumps(make_notification(make_alert(fp, status, starts_at=starts))).encode()
    store.record_many([Incoming(parse_notification(body), body, at)], recording, at)


def _cycle(store: SqlStore, recording: Recording, changes: int, every: float, start: float = T0,
           fp: str = "fp1", first: int = 0) -> float:  # fmt: skip
    at = start
    for n in range(first, first + changes):
        _change(store, recording, n, at, fp)
        at += every
    return at - every


def _sent(store: SqlStore) -> list[dict[str, Any]]:
    """Deliveries that are messages to someone (not skipped), oldest first."""
    rows = sorted(store.outbox.list(limit=10_000), key=lambda d: d["id"])
    return [d for d in rows if d["status"] != "skipped"]


def _by_event(store: SqlStore) -> Counter[str]:
    """Messages per state change, keyed `<event_status>:<note>`."""
    return Counter(
        f"{d['event_status']}:{d['note']}" for d in _sent(store) if d["channel"] == "sms"
    )


def _episodes(store: SqlStore) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [
            dict(r) for r in conn.exec_driver_sql("SELECT * FROM flapping ORDER BY id").mappings()
        ]


def test_at_exactly_max_changes_it_is_not_flapping(store: SqlStore) -> None:
    _cycle(store, _recording(), changes=4, every=60)
    sms = [d for d in _sent(store) if d["channel"] == "sms"]
    assert len(sms) == 4 and all(d["note"] is None for d in sms)
    assert _episodes(store) == []


def test_one_more_change_sends_one_notice_and_the_rest_are_hushed(store: SqlStore) -> None:
    _cycle(store, _recording(), changes=9, every=60)
    sms = [d for d in _sent(store) if d["channel"] == "sms"]
    assert [d["note"] for d in sms] == [None] * 4 + [flapping_note(5, 1800)]
    assert flapping_note(5, 1800) == "flapping: 5 changes in 30 min"
    skipped = [d for d in store.outbox.list(limit=10_000) if d["status"] == "skipped"]
    assert {d["note"] for d in skipped} == {HUSHED} and len({d["event_id"] for d in skipped}) == 4
    (episode,) = _episodes(store)
    assert episode["changes"] == 9 and episode["ended_at"] is None
    assert episode["last_status"] == "firing"  # change 8 fired instance 4


def test_changes_at_the_window_edge_do_not_count(store: SqlStore) -> None:
    # Four changes, then the fifth exactly one window after the first: out of it.
    recording = _recording()
    _cycle(store, recording, changes=4, every=100)
    _change(store, recording, 4, T0 + 1800)
    assert _episodes(store) == []
    # A hair inside the window of the second to fifth, the sixth makes five.
    _change(store, recording, 5, T0 + 1800 + 100 - 1)
    (episode,) = _episodes(store)
    assert episode["changes"] == 5 and episode["started_at"] == T0 + 1899


def test_each_alert_counts_its_own_changes(store: SqlStore) -> None:
    recording = _recording()
    _cycle(store, recording, changes=3, every=10, fp="a")
    _cycle(store, recording, changes=3, every=10, start=T0 + 5, fp="b")
    assert _episodes(store) == []


def test_it_stops_after_holding_one_state_and_people_are_told_once(store: SqlStore) -> None:
    clock = FakeClock(T0)
    recording = _recording()
    last = _cycle(store, recording, changes=7, every=60)  # ends firing (change 6)
    settings = settings_from_mapping({"incidents": {"flapping": FLAPPING}}, {})
    woken: list[bool] = []
    duty = FlappingEnd(
        store.flapping, settings.incidents.flapping, frozenset({"dashboard"}), clock,
        ended=lambda: woken.append(True),
    )  # fmt: skip
    clock.now = last + 600 - 1
    duty()
    assert _episodes(store)[0]["ended_at"] is None and not woken
    clock.now = last + 600
    duty()
    duty()  # told once: a second pass (or replica) finds nothing to end
    (episode,) = _episodes(store)
    assert episode["ended_at"] == last + 600 and woken == [True]
    note = stopped_note("firing", 600)
    assert note == "stopped flapping: firing for 10 min"
    # The hushed firing messages of the last change go out now, with the note.
    told = [d for d in _sent(store) if d["note"] == note]
    assert sorted(d["channel"] for d in told) == ["dashboard", "email", "sms"]
    assert {d["event_id"] for d in told} == {episode["last_event_id"]}
    (incident,) = [i for i in store.incidents.list() if i["alert_id"] == episode["last_alert_id"]]
    assert incident["flapping"] == note
    # Its resolution, later, follows that message as any resolution does.
    _change(store, recording, 7, last + 700)
    resolved = [d for d in _sent(store) if d["event_status"] == "resolved" and d["note"] is None]
    assert sorted(d["channel"] for d in resolved if d["received_at"] == last + 700) == [
        "dashboard", "email", "sms",
    ]  # fmt: skip


def test_ending_resolved_is_a_notice_of_its_own(store: SqlStore) -> None:
    clock = FakeClock(T0)
    last = _cycle(store, _recording(), changes=8, every=60)  # ends resolved
    settings = settings_from_mapping({"incidents": {"flapping": FLAPPING}}, {})
    clock.now = last + 600
    FlappingEnd(store.flapping, settings.incidents.flapping, frozenset({"dashboard"}), clock)()
    note = stopped_note("resolved", 600)
    told = [d for d in _sent(store) if d["note"] == note]
    assert {(d["purpose"], d["event_status"]) for d in told} == {("flapping", "resolved")}
    assert sorted(d["channel"] for d in told) == ["dashboard", "email", "sms"]


def test_a_change_after_the_end_starts_counting_afresh(store: SqlStore) -> None:
    clock = FakeClock(T0)
    recording = _recording()
    last = _cycle(store, recording, changes=7, every=60)
    settings = settings_from_mapping({"incidents": {"flapping": FLAPPING}}, {})
    clock.now = last + 600
    FlappingEnd(store.flapping, settings.incidents.flapping, frozenset(), clock)()
    # Still inside the window of the old changes: they do not count again.
    _cycle(store, recording, changes=4, every=30, start=clock.now + 1, first=7)
    assert len(_episodes(store)) == 1
    _change(store, recording, 11, clock.now + 200)
    assert [e["changes"] for e in _episodes(store)] == [7, 5]


def test_flapping_can_be_turned_off(store: SqlStore) -> None:
    _cycle(store, _recording(enabled=False), changes=9, every=60)
    assert _episodes(store) == []
    assert _by_event(store) == {"firing:None": 5, "resolved:None": 4}  # every message, no note


def test_the_gauge_counts_alerts_flapping_now(store: SqlStore) -> None:
    recording = _recording()
    _cycle(store, recording, changes=5, every=10, fp="a")
    _cycle(store, recording, changes=5, every=10, fp="b")
    _cycle(store, recording, changes=2, every=10, fp="c")
    (family,) = FlappingCollector(store.flapping.open_count).collect()
    assert family.name == "alert_webhook_flapping_alerts"
    assert [s.value for s in family.samples] == [2]


def test_spans_read_as_people_say_them() -> None:
    assert (span(1800), span(600), span(45), span(90)) == ("30 min", "10 min", "45 s", "90 s")


def test_two_replicas_over_one_store_decide_once(any_store: SqlStore) -> None:
    """Each replica has its own planners (nothing shared in memory); alternate
    changes go to either, and each notification to both, as an HA pair of
    Alertmanagers sends it: one notice, one episode, one end."""
    other = open_store(any_store.engine.url.render_as_string(hide_password=False))
    try:
        replicas = [(any_store, _recording()), (other, _recording())]
        at = T0
        for n in range(9):
            for store, recording in replicas if n % 2 else replicas[::-1]:
                _change(store, recording, n, at)
            at += 60
        notices = [d for d in _sent(any_store) if d["note"] and d["note"].startswith("flapping:")]
        assert sorted(d["channel"] for d in notices) == ["dashboard", "email", "sms"]
        (episode,) = _episodes(any_store)
        assert episode["changes"] == 9
        settings = settings_from_mapping({"incidents": {"flapping": FLAPPING}}, {})
        clock = FakeClock(at + 600)
        for store, _ in replicas:
            FlappingEnd(store.flapping, settings.incidents.flapping, frozenset(), clock)()
        ends = [d for d in _sent(any_store) if d["note"] == stopped_note("firing", 600)]
        assert len(ends) == 3
    finally:
        other.dispose()


@pytest.mark.parametrize("max_changes", [1, 2, 6])
def test_the_limit_is_the_setting(store: SqlStore, max_changes: int) -> None:
    _cycle(store, _recording(max_changes=max_changes), changes=max_changes + 3, every=1)
    notes = [d["note"] for d in _sent(store) if d["channel"] == "sms"]
    assert notes == [None] * max_changes + [flapping_note(max_changes + 1, 1800)]
