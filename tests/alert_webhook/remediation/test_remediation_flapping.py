"""remediation/flapping.py: a flapping alert plans no more runs than its
playbook's budget; the guardrails keep any alert from acting past it."""

from __future__ import annotations

import json
import sys

from webhook_support import CONTACTS, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.rows import HUSHED
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.record import Incoming
from alert_webhook.remediation.guardrails import Attempt, Candidate, History, default_guardrails
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.run_notices import Telling
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.store import SqlStore

BUDGET = 3
PLAYBOOKS = playbooks_from_mapping(
    {
        "playbooks": [
            {
                "name": "restart-demo",
                "match": {"alertname": "DemoServiceDown"},
                "target": ["service"],
                "cooldown": "10m",
                "max_attempts": BUDGET,
                "window": "1h",
                "notify": "after_attempt",
                "actions": [{"action": "run_command", "params": {"argv": [sys.executable, "-V"]}}],
            },
        ]
    }
)
T0 = 1_800_000_000.0


def _recording(enabled: bool = True):
    flapping = {"enabled": enabled, "max_changes": 4, "window_seconds": 1800}
    settings = settings_from_mapping({**CONTACTS, "incidents": {"flapping": flapping}}, {})
    return recording_from(
        settings, ["dashboard"], extra=[RemediationPlanner(PLAYBOOKS, lambda ended, now: Telling())]
    )


def _flap(store: SqlStore, changes: int, enabled: bool = True) -> None:
    recording = _recording(enabled)
    for n in range(changes):
        status = "firing" if n % 2 == 0 else "resolved"
        starts = f"2026-11-28T09:{n // 2:02d}:00Z"
        alert = make_alert("fp1", status, severity="high", starts_at=starts, service="demo")
        body = json.dumps(make_notification(alert)).encode()
        at = T0 + 60 * n
        store.record_many([Incoming(parse_notification(body), body, at)], recording, at)


def test_a_flapping_alert_plans_no_more_runs_than_its_budget(store: SqlStore) -> None:
    _flap(store, changes=20)  # 10 firings in 20 minutes, flapping from the fifth change
    assert store.count("remediation_runs") == BUDGET


def test_without_flapping_each_firing_plans_a_run_and_the_guardrails_stop_the_rest(
    store: SqlStore,
) -> None:
    """What the guardrails guarantee already, flapping or not: past the budget (and
    inside the cooldown) a run is blocked, never acted on."""
    _flap(store, changes=20, enabled=False)
    assert store.count("remediation_runs") == 10
    (book,) = PLAYBOOKS.playbooks
    started = [Attempt(book.name, "demo", T0 + 600 * i, "verified") for i in range(BUDGET)]
    history = History(started, T0 + 600 * BUDGET + 1)
    decision = default_guardrails().decide(Candidate(book, "demo"), history)
    assert (decision.verdict, decision.guardrail) == ("blocked", "attempt_budget")


def test_hushed_messages_are_not_held_for_a_run(store: SqlStore) -> None:
    """`notify: after_attempt` holds a firing's messages until its run ends; a hushed
    change's stay skipped, so no run's ending can send them."""
    _flap(store, changes=20)
    hushed = [d for d in store.outbox.list(limit=1000) if d["note"] == HUSHED]
    assert hushed and {d["status"] for d in hushed} == {"skipped"}
