"""The run store (remediation/runs.py) on both stores: runs planned once with
their firing state change, claimed under a lease, started before they act,
interrupted rather than run twice."""

from __future__ import annotations

import functools
import json
import sys

import pytest
from sqlalchemy import update
from webhook_support import CONTACTS, concurrently, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.schema import remediation_runs
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.run_notices import Ended, Telling
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.remediation.states import RunStatus, StepRecord, StepStatus
from alert_webhook.store import open_store


@pytest.fixture
def store(any_store):
    return any_store


PLAYBOOKS = playbooks_from_mapping(
    {
        "playbooks": [
            {
                "name": "restart-demo",
                "match": {"alertname": "DemoServiceDown"},
                "target": ["service"],
                "actions": [
                    {
                        "action": "run_command",
                        "params": {"argv": [sys.executable, "-c", "pass", "{labels.service}"]},
                    },
                ],
            },  # fmt: skip
            {"name": "tell-only", "match": {"alertname": "PermissionDenied"}, "actions": []},
        ]
    }
)
RECORDING = recording_from(
    settings_from_mapping(CONTACTS, {}),
    ["dashboard"],
    extra=[RemediationPlanner(PLAYBOOKS, lambda ended, now: Telling())],
)


def silent(ended: Ended, now: float) -> Telling:
    """A `Tell` for tests about the runs alone: nobody is told anything."""
    return Telling()


def record(store, *alerts, now: float = 100.0):
    body = json.dumps(make_notification(*alerts)).encode()
    return store.record_notification(parse_notification(body), body, now, RECORDING)


def test_a_firing_state_change_plans_one_run_per_matching_alert(store) -> None:
    result = record(
        store,
        make_alert("a", service="demo"),
        make_alert("b", service="worker"),
        make_alert("c", alertname="Unmatched"),
    )
    assert result.planned_runs == 2
    rows = store.runs.list()
    assert sorted((r["playbook"], r["target"], r["status"]) for r in rows) == [
        ("restart-demo", "service=demo", "planned"),
        ("restart-demo", "service=worker", "planned"),
    ]
    assert {r["planned_at"] for r in rows} == {100.0}


def test_a_repeat_or_ha_copy_plans_nothing_new(store) -> None:
    record(store, make_alert("a", service="demo"))
    again = record(store, make_alert("a", service="demo"), now=160.0)
    assert again.planned_runs == 0
    assert store.count("remediation_runs") == 1


def test_a_resolved_alert_and_a_playbook_without_actions_plan_nothing(store) -> None:
    record(store, make_alert("a", service="demo"))
    resolved = record(store, make_alert("a", status="resolved", service="demo"), now=200.0)
    told = record(store, make_alert("p", alertname="PermissionDenied"), now=210.0)
    assert (resolved.planned_runs, told.planned_runs) == (0, 0)
    assert store.count("remediation_runs") == 1


def test_a_claimed_run_carries_its_alert_and_only_one_claim_wins(store) -> None:
    record(store, make_alert("a", service="demo"))
    [job] = store.runs.claim(101.0, "w1", lease=30, limit=5)
    assert (job.playbook, job.alertname, job.labels["service"], job.attempts) == (
        "restart-demo", "DemoServiceDown", "demo", 1,
    )  # fmt: skip
    assert store.runs.claim(102.0, "w2", lease=30, limit=5) == []


def test_start_and_steps_are_written_before_the_action_and_completed_after(store) -> None:
    record(store, make_alert("a", service="demo"))
    [job] = store.runs.claim(101.0, "w1", lease=30, limit=1)
    runs = store.runs
    assert runs.start(job, 101.0, 131.0)
    step = StepRecord(0, "run_command", {"argv": ["/bin/true", "demo"]}, StepStatus.STARTED)
    assert runs.start_step(job, step, 101.0, 200.0)
    [started] = runs.list()[0]["steps"]
    assert (started["status"], started["params"]) == ("started", {"argv": ["/bin/true", "demo"]})
    done = StepRecord(0, "run_command", step.params, StepStatus.SUCCEEDED, 0, "ok\n", None, 0.5)
    runs.finish_step(job, done, 102.0)
    assert runs.finish(job, RunStatus.VERIFIED, 102.0, silent)
    [row] = runs.list()
    assert (row["status"], row["started_at"], row["finished_at"]) == ("verified", 101.0, 102.0)
    assert [(s["status"], s["exit_status"], s["output"], s["duration"]) for s in row["steps"]] == [
        ("succeeded", 0, "ok\n", 0.5)
    ]


def test_the_step_start_holds_the_lease_past_the_actions_timeout(store) -> None:
    record(store, make_alert("a", service="demo"))
    [job] = store.runs.claim(101.0, "w1", lease=30, limit=1)
    store.runs.start(job, 101.0, 131.0)
    step = StepRecord(0, "run_command", {}, StepStatus.STARTED)
    store.runs.start_step(job, step, 101.0, 500.0)
    assert store.runs.claim(400.0, "w2", lease=30, limit=1) == []


def test_a_run_whose_runner_died_is_reclaimed_started_and_interrupted(store) -> None:
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [dead] = runs.claim(101.0, "w1", lease=30, limit=1)
    runs.start(dead, 101.0, 131.0)
    runs.start_step(dead, StepRecord(0, "run_command", {}, StepStatus.STARTED), 101.0, 131.0)
    [job] = runs.claim(140.0, "w2", lease=30, limit=1)
    assert (job.id, job.started_at, job.attempts) == (dead.id, 101.0, 2)
    # The dead runner's lease is gone: it can write nothing more.
    assert not runs.finish(dead, RunStatus.VERIFIED, 141.0, silent)
    assert runs.interrupt(job, 141.0, silent)
    [row] = runs.list()
    assert row["status"] == "failed" and row["detail"].startswith("interrupted")
    assert [s["status"] for s in row["steps"]] == ["interrupted"]
    # The dead runner coming back to life cannot rewrite what was decided.
    late = StepRecord(0, "run_command", {}, StepStatus.SUCCEEDED, 0, "done", None, 1.0)
    runs.finish_step(dead, late, 150.0)
    assert [s["status"] for s in runs.list()[0]["steps"]] == ["interrupted"]


def test_the_store_refuses_a_second_run_acting_on_one_target(store) -> None:
    record(store, make_alert("a", service="demo"))
    record(store, make_alert("b", service="demo", starts_at="2026-11-28T10:00:00Z"), now=110.0)
    first, second = store.runs.claim(120.0, "w1", lease=30, limit=2)
    assert store.runs.start(first, 120.0, 150.0)
    assert not store.runs.start(second, 120.0, 150.0)
    store.runs.finish(first, RunStatus.FAILED, 121.0, silent, "exit status 1")
    assert store.runs.start(second, 122.0, 150.0)


def test_the_store_refuses_a_second_run_acting_on_one_fleet_host(store) -> None:
    record(store, make_alert("a", service="demo"))
    record(store, make_alert("b", service="web"), now=105.0)
    record(store, make_alert("c", service="db"), now=106.0)
    first, second, local = store.runs.claim(110.0, "w", lease=30, limit=3)
    assert store.runs.start(first, 110.0, 140.0, host="host-2")
    # another target, the same host: refused while the first acts
    assert not store.runs.start(second, 110.0, 140.0, host="host-2")
    assert store.runs.start(local, 110.0, 140.0)  # on this machine: no host to share
    assert [(a.target, a.host) for a in store.runs.attempts(0)] == [
        ("service=demo", "host-2"),
        ("service=db", None),
    ]
    store.runs.finish(first, RunStatus.FAILED, 111.0, silent, "exit status 1")
    assert store.runs.start(second, 112.0, 140.0, host="host-2")


def test_attempts_are_what_the_guardrails_count(store) -> None:
    record(store, make_alert("a", service="demo"))
    record(store, make_alert("b", service="web"), now=105.0)
    record(store, make_alert("c", service="db"), now=106.0)
    a, b, c = store.runs.claim(110.0, "w", lease=30, limit=3)
    store.runs.start(a, 110.0, 140.0)
    store.runs.finish(b, RunStatus.BLOCKED, 111.0, silent, "cooldown", "cooldown")
    store.runs.finish(c, RunStatus.SKIPPED, 112.0, silent)
    got = {(x.target, x.outcome, x.started_at) for x in store.runs.attempts(since=0)}
    # the blocked run never started; the dry run counts; the acting one has no outcome
    assert got == {("service=demo", None, 110.0), ("service=db", "skipped", 112.0)}
    assert [x.target for x in store.runs.attempts(0, excluding=a.id)] == ["service=db"]
    # an old finished run drops out; one still acting never does
    with store.engine.begin() as conn:
        conn.execute(update(remediation_runs).values(started_at=1.0))
    assert [x.target for x in store.runs.attempts(since=50.0)] == ["service=demo"]


@pytest.fixture
def replica(store):
    other = open_store(store.engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def test_two_replicas_recording_one_notification_plan_one_run(store, replica) -> None:
    for round_ in range(5):
        alerts = [make_alert(f"r{round_}-{i}", service=f"s{i}") for i in range(10)]
        body = json.dumps(make_notification(*alerts)).encode()
        notification = parse_notification(body)
        results = concurrently(
            *(
                functools.partial(s.record_notification, notification, body, 100.0, RECORDING)
                for s in (store, replica)
            )
        )
        assert sum(r.planned_runs for r in results) == 10
    assert store.count("remediation_runs") == 50
