"""reports/recovery.py on both stores: the recovery plan's improvement metrics
read from the runs, steps and incidents the rest of the webhook records."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from webhook_support import CONTACTS, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.schema import remediation_runs
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.run_notices import Ended, Telling
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.remediation.states import RunStatus, StepRecord, StepStatus
from alert_webhook.reports.recovery import (
    ACTED,
    RECOVERED,
    ActionAttempts,
    PlaybookAttempts,
    Resolutions,
    ServiceRecovery,
)

HOUR, DAY = 3600.0, 86400.0
# The outcome a recovering run ends in, whatever the runner calls it.
[RECOVERING] = RECOVERED
ms = pytest.approx  # SQLite keeps a timestamp to about 0.1 ms
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()


def at(seconds: float) -> str:
    """RFC 3339 text of T0 + seconds, as Alertmanager writes `startsAt`."""
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat().replace("+00:00", "Z")


PLAYBOOKS = playbooks_from_mapping(
    {
        "playbooks": [
            {
                "name": "restart-demo",
                "match": {"alertname": "DemoServiceDown"},
                "target": ["service", "instance"],
                "actions": [
                    {"action": "run_command", "params": {"argv": [sys.executable, "-c", "1"]}},
                ],
            },
            {
                "name": "clean-disk",
                "match": {"alertname": "DiskFull"},
                "target": ["instance"],
                "actions": [
                    {"action": "run_command", "params": {"argv": [sys.executable, "-c", "1"]}},
                ],
            },
        ]
    }
)
RECORDING = recording_from(
    settings_from_mapping(CONTACTS, {}),
    ["dashboard"],
    extra=[RemediationPlanner(PLAYBOOKS, lambda ended, now: Telling())],
)


@pytest.fixture
def store(any_store):
    return any_store


def fire(store, fingerprint: str, starts: float, now: float | None = None, **labels: str) -> None:
    alert = make_alert(fingerprint, starts_at=at(starts), **labels)
    body = json.dumps(make_notification(alert)).encode()
    now = T0 + (starts + 5 if now is None else now)
    store.record_notification(parse_notification(body), body, now, RECORDING)


def resolve(store, fingerprint: str, starts: float, now: float, **labels: str) -> None:
    alert = make_alert(fingerprint, status="resolved", starts_at=at(starts), **labels)
    body = json.dumps(make_notification(alert)).encode()
    store.record_notification(parse_notification(body), body, T0 + now, RECORDING)


def silent(ended: Ended, now: float) -> Telling:
    """Nobody is told: these tests are about what the runs add up to."""
    return Telling()


def run(store, now: float, status: RunStatus, *step_outcomes: StepStatus) -> None:
    """Claim the next planned run and end it with `status` after its steps."""
    runs = store.runs
    [job] = runs.claim(T0 + now, "w", lease=30, limit=1)
    if status in (RunStatus.BLOCKED, RunStatus.SKIPPED):
        assert runs.finish(job, status, T0 + now, silent)
        return
    assert runs.start(job, T0 + now, T0 + now + 30)
    for index, outcome in enumerate(step_outcomes):
        step = StepRecord(index, "run_command", {}, StepStatus.STARTED)
        assert runs.start_step(job, step, T0 + now, T0 + now + HOUR)
        if outcome is not StepStatus.STARTED:
            done = StepRecord(index, "run_command", {}, outcome, 0, "", None, 0.5)
            runs.finish_step(job, done, T0 + now)
    if status is not RunStatus.IN_FLIGHT:
        assert runs.finish(job, status, T0 + now, silent)


def read(store, now: float = 10 * HOUR):
    return store.recovery.improvement(T0 + now)


def test_an_empty_store_reports_nothing_but_zero_resolutions(store) -> None:
    got = read(store)
    assert (got.recoveries, got.playbooks, got.actions, got.failures) == ([], [], [], [])
    assert got.incidents == Resolutions(0, 0, 0)


def test_recovery_time_runs_from_the_alerts_start_to_the_recovering_runs_end(store) -> None:
    fire(store, "a", 0, service="demo")
    run(store, 42, RECOVERING, StepStatus.SUCCEEDED)
    fire(store, "b", 100, service="demo", instance="db2:9100")
    run(store, 100 + 18.5, RECOVERING, StepStatus.FAILED, StepStatus.SUCCEEDED)
    fire(store, "c", 200, service="web")
    run(store, 300, RunStatus.FAILED, StepStatus.FAILED)  # not a recovery
    fire(store, "d", 400)  # no service label
    run(store, 407, RECOVERING, StepStatus.SUCCEEDED)
    got = {r.service: r for r in read(store).recoveries}
    assert set(got) == {"demo", ""}
    demo, none = got["demo"], got[""]
    assert (demo.count, demo.seconds_total, demo.last_seconds) == ms((2, 60.5, 18.5), abs=1e-3)
    assert (none.count, none.seconds_total, none.last_seconds) == ms((1, 7.0, 7.0), abs=1e-3)


def test_a_start_after_the_runs_end_counts_as_no_time_not_negative_time(store) -> None:
    fire(store, "a", 100, now=0, service="demo")  # Prometheus' clock runs ahead
    run(store, 40, RECOVERING, StepStatus.SUCCEEDED)
    assert read(store).recoveries == [ServiceRecovery("demo", 1, 0.0, 0.0)]


def test_attempts_are_runs_that_acted_and_recoveries_those_that_recovered(store) -> None:
    outcomes = [RECOVERING, RunStatus.FAILED, RECOVERING,
                RunStatus.BLOCKED, RunStatus.SKIPPED]  # fmt: skip
    for i, status in enumerate(outcomes):
        fire(store, f"r{i}", i * 100, service=f"s{i}")
        run(store, i * 100 + 10, status, StepStatus.SUCCEEDED)
    fire(store, "disk", 900, alertname="DiskFull")
    run(store, 910, RunStatus.FAILED, StepStatus.TIMED_OUT)
    fire(store, "planned", 1000, service="later")  # not claimed yet: no outcome
    assert read(store).playbooks == [
        PlaybookAttempts("clean-disk", attempts=1, recoveries=0),
        PlaybookAttempts("restart-demo", attempts=3, recoveries=2),
    ]


def test_action_attempts_count_each_ended_step_by_playbook_action_and_outcome(store) -> None:
    fire(store, "a", 0, service="demo")
    run(store, 10, RECOVERING, StepStatus.TIMED_OUT, StepStatus.SUCCEEDED)
    fire(store, "b", 100, service="web")
    run(store, 110, RunStatus.IN_FLIGHT, StepStatus.FAILED, StepStatus.STARTED)  # still acting
    fire(store, "disk", 200, alertname="DiskFull")
    run(store, 210, RunStatus.FAILED, StepStatus.FAILED)
    assert sorted(read(store).actions, key=lambda a: (a.playbook, a.outcome)) == [
        ActionAttempts("clean-disk", "run_command", "failed", 1),
        ActionAttempts("restart-demo", "run_command", "failed", 1),
        ActionAttempts("restart-demo", "run_command", "succeeded", 1),
        ActionAttempts("restart-demo", "run_command", "timed_out", 1),
    ]


def test_incidents_are_classed_by_who_resolved_them_once_their_runs_ended(store) -> None:
    fire(store, "auto", 0, service="a")
    run(store, 10, RECOVERING, StepStatus.SUCCEEDED)
    resolve(store, "auto", 0, 20, service="a")
    fire(store, "acked", 100, service="b")
    store.incidents.ack(_alert_id(store, "acked"), "ops", T0 + 105)
    run(store, 110, RECOVERING, StepStatus.SUCCEEDED)  # a person was on it anyway
    resolve(store, "acked", 100, 120, service="b")
    fire(store, "failed", 200, service="c")
    run(store, 210, RunStatus.FAILED, StepStatus.FAILED)
    resolve(store, "failed", 200, 220, service="c")
    fire(store, "late-ack", 300, alertname="Other")  # no playbook
    resolve(store, "late-ack", 300, 320, alertname="Other")
    store.incidents.ack(_alert_id(store, "late-ack"), "ops", T0 + 330)  # after it closed
    fire(store, "open", 400, service="d")
    run(store, 410, RECOVERING, StepStatus.SUCCEEDED)  # recovered, not yet resolved
    fire(store, "waiting", 500, service="e")
    # Its run in flight (a resolution cancels only a run no runner holds): not
    # counted yet.
    [job] = store.runs.claim(T0 + 510, "w", lease=30, limit=1)
    resolve(store, "waiting", 500, 520, service="e")
    assert read(store).incidents == Resolutions(automated=1, acknowledged=1, unattended=2)
    assert store.runs.start(job, T0 + 530, T0 + 560)
    assert store.runs.finish(job, RECOVERING, T0 + 530, silent)
    assert read(store).incidents == Resolutions(automated=2, acknowledged=1, unattended=2)


def test_an_incident_an_operator_closed_as_handled_counts_as_attended(store) -> None:
    # Handling it (the console's resolve, with a note) is a person's answer,
    # whether or not they pressed Acknowledge first.
    fire(store, "handled", 0, alertname="Other")  # no playbook
    store.incidents.resolve_handled(_alert_id(store, "handled"), "ops", "restarted it", T0 + 30)
    fire(store, "cleared", 100, alertname="Other")
    resolve(store, "cleared", 100, 120, alertname="Other")
    assert read(store).incidents == Resolutions(automated=0, acknowledged=1, unattended=1)


def _alert_id(store, fingerprint: str) -> int:
    [alert] = store.list_alerts(fingerprint=fingerprint)
    return alert.id


def test_overlapping_alerts_of_a_service_are_one_failure(store) -> None:
    fire(store, "old", -40 * DAY, service="demo")
    resolve(store, "old", -40 * DAY, -40 * DAY + 60, service="demo")
    fire(store, "a", 0, service="demo")
    fire(store, "a2", 30, alertname="Other", service="demo")  # the same outage
    resolve(store, "a", 0, 60, service="demo")
    resolve(store, "a2", 30, 90, alertname="Other", service="demo")
    fire(store, "b", HOUR, service="demo")
    resolve(store, "b", HOUR, HOUR + 60, service="demo")
    fire(store, "c", 3 * HOUR, service="demo")  # still firing
    fire(store, "w", 0, service="web")
    fire(store, "x", 0, alertname="NoService")  # no service: no failure to count
    demo, web = read(store, now=4 * HOUR).failures
    assert (demo.service, demo.failures) == ("demo", 4)
    assert (demo.first_start, demo.last_start) == ms((T0 - 40 * DAY, T0 + 3 * HOUR), abs=1e-3)
    assert (web.service, web.failures, web.between_seconds) == ("web", 1, 0.0)


def test_an_alert_still_firing_swallows_the_starts_it_overlaps(store) -> None:
    fire(store, "long", -40 * DAY, service="db")
    fire(store, "x", 0, service="db")
    resolve(store, "x", 0, 60, service="db")
    fire(store, "y", 100, service="web")
    resolve(store, "y", 100, 50, service="web")  # closed before it started: two clocks
    fire(store, "z", 101, service="web")  # so this one starts a failure of its own
    db, web = read(store).failures
    assert (db.failures, db.first_start) == (1, ms(T0 - 40 * DAY, abs=1e-3))
    assert (web.failures, web.between_seconds) == (2, ms(1.0, abs=1e-3))


def test_history_before_the_cutoff_is_read_once_per_cutoff(store) -> None:
    """A day or more back nothing changes: those totals are kept, and only what
    came after the cutoff is read again; the sum is what one full read gives."""
    fire(store, "a", 0, service="demo")
    run(store, 10, RECOVERING, StepStatus.SUCCEEDED)
    resolve(store, "a", 0, 20, service="demo")
    now = 3 * DAY
    assert store.recovery.cutoff(T0 + now) > T0 + 20  # all of it settled
    first = read(store, now)
    with store.engine.begin() as conn:  # what no runner does: rewrite settled history
        conn.execute(update(remediation_runs).values(status=RunStatus.FAILED.value))
    fire(store, "b", now - 100, service="demo")  # after the cutoff: read every time
    run(store, now - 90, RECOVERING, StepStatus.SUCCEEDED)
    resolve(store, "b", now - 100, now - 80, service="demo")
    again = read(store, now + 60)
    assert again.playbooks == [PlaybookAttempts("restart-demo", attempts=2, recoveries=2)]
    [demo] = again.recoveries
    assert (demo.count, demo.seconds_total, demo.last_seconds) == ms((2, 20, 10), abs=1e-3)
    assert again.incidents == Resolutions(automated=2)
    assert first.incidents == Resolutions(automated=1)
    [failures] = again.failures
    assert (failures.failures, failures.between_seconds) == (2, ms(now - 100, abs=1e-3))
    # The next day's cutoff reads all of history again, and sees the rewrite.
    later = read(store, now + DAY)
    assert later.playbooks == [PlaybookAttempts("restart-demo", attempts=2, recoveries=1)]


def test_recovered_outcomes_are_outcomes_that_acted() -> None:
    assert RECOVERED <= ACTED
    assert {RunStatus.BLOCKED, RunStatus.SKIPPED}.isdisjoint(ACTED)
