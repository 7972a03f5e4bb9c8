"""dashboard/console.py: one incident per episode of a failing service, the most
severe firing alert first, firing above resolved; times.py: relative
times and deadline countdowns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from webhook_support import RECORDING, make_alert, make_notification

from alert_webhook.dashboard.console import (
    DELIVERIES_PER_HEADLINE,
    FAILURES_PER_CHANNEL,
    Console,
)
from alert_webhook.db.schema import deliveries, incidents, remediation_runs, remediation_steps
from alert_webhook.delivery.rows import DeliveryOutcome, DeliveryStatus
from alert_webhook.incidents.episodes import INHIBITING_ALERTS
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.store import SqlStore
from alert_webhook.times import ago, deadline, duration, iso

ROOT = Path(__file__).resolve().parents[3]


def _receive(store: SqlStore, *alerts, at: float = 100.0) -> None:
    body = json.dumps(make_notification(*alerts)).encode()
    store.record_notification(parse_notification(body), body, at, RECORDING)


def _names(store: SqlStore) -> list[tuple[str, list[str]]]:
    return [
        (i.service, [a.alertname for a in i.alerts]) for i in Console(store.tx).read().incidents
    ]


def test_alerts_of_one_service_are_one_incident_with_the_most_severe_first(any_store) -> None:
    _receive(
        any_store,
        make_alert("e", "firing", "critical", "ErrorBudgetBurn", service="api"),
        make_alert("u", "firing", "high", "ServiceUnavailable", service="api", instance="api:8080"),
        make_alert("s", "firing", "medium", "ApiResponseTimeHigh", service="api"),
    )
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.service == "api"
    assert [a.alertname for a in incident.alerts] == [
        "ErrorBudgetBurn",
        "ServiceUnavailable",
        "ApiResponseTimeHigh",
    ]
    assert incident.instance == "db1:9100", "the headline's"
    assert incident.firing and incident.state == "firing"


def test_of_two_as_severe_the_inhibiting_alert_is_the_headline(any_store) -> None:
    _receive(
        any_store,
        make_alert("e", "firing", "critical", "ErrorBudgetBurn", service="api"),
        make_alert("u", "firing", "critical", "ServiceUnavailable", service="api"),
    )
    assert _names(any_store) == [("api", ["ServiceUnavailable", "ErrorBudgetBurn"])]


def test_without_an_inhibiting_alert_the_most_severe_is_the_headline(any_store) -> None:
    _receive(
        any_store,
        make_alert("l", "firing", "low", "DiskFilling", job="db"),
        make_alert("h", "firing", "high", "ErrorRateHigh", job="db"),
    )
    assert _names(any_store) == [("db", ["ErrorRateHigh", "DiskFilling"])]


def test_the_headline_is_the_most_severe_alert_still_firing(any_store) -> None:
    # Seen on the default profile: a resolved TaskQueueDepthHigh (and a resolved
    # critical ServiceUnavailable, "overdue") headlined while others fired.
    _receive(
        any_store,
        make_alert("u", "firing", "critical", "ServiceUnavailable", service="api"),
        make_alert("q", "firing", "high", "TaskQueueDepthHigh", service="api"),
        at=100.0,
    )
    _receive(
        any_store, make_alert("e", "firing", "medium", "ErrorRateHigh", service="api"), at=110.0
    )
    _receive(
        any_store,
        make_alert("u", "resolved", "critical", "ServiceUnavailable", service="api"),
        make_alert("q", "resolved", "high", "TaskQueueDepthHigh", service="api"),
        at=150.0,
    )
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.headline.alertname == "ErrorRateHigh" and incident.state == "firing"
    assert [a.alertname for a in incident.open_alerts] == ["ErrorRateHigh"]
    assert incident.started_at == 100.0, "the episode began with the first of them"


def test_an_incident_whose_alerts_all_resolved_closes_and_a_new_failure_is_another(
    any_store,
) -> None:
    # Seen: "Started 23 min ago" on an outage that had just begun, the age of the
    # service's whole group.
    _receive(any_store, make_alert("a", "firing", "high", "ErrorRateHigh", service="api"), at=100.0)
    _receive(any_store, make_alert("a", "resolved", "high", "ErrorRateHigh", service="api"),
             at=200.0)  # fmt: skip
    later = make_alert("u", "firing", "critical", "ServiceUnavailable", service="api",
                       starts_at="2026-11-28T10:00:00Z")  # fmt: skip
    _receive(any_store, later, at=1500.0)
    now, then = Console(any_store.tx).read().incidents
    assert (now.service, now.state, now.started_at) == ("api", "firing", 1500.0)
    assert [a.alertname for a in now.alerts] == ["ServiceUnavailable"]
    assert (then.state, then.started_at, then.resolved_at) == ("resolved", 100.0, 200.0)
    assert (then.id, now.id) == (1, now.headline.alert_id), "each by the alert that opened it"


def test_an_alert_that_fires_while_another_is_open_joins_its_incident(any_store) -> None:
    _receive(any_store, make_alert("a", "firing", "high", "ErrorRateHigh", service="api"), at=100.0)
    _receive(any_store, make_alert("b", "firing", "low", "SlowRequests", service="api"), at=150.0)
    _receive(any_store, make_alert("a", "resolved", "high", "ErrorRateHigh", service="api"),
             at=200.0)  # fmt: skip
    _receive(any_store, make_alert("c", "firing", "low", "QueueDepth", service="api"), at=300.0)
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.id == 1 and incident.started_at == 100.0
    assert {a.alertname for a in incident.open_alerts} == {"SlowRequests", "QueueDepth"}


def test_an_acknowledgement_covers_the_alerts_acknowledged_not_later_ones(any_store) -> None:
    # Seen: one acknowledgement hid three newer unacknowledged alerts of the group.
    _receive(
        any_store,
        make_alert("a", "firing", "high", "ErrorRateHigh", service="api"),
        make_alert("b", "firing", "medium", "SlowRequests", service="api"),
        at=100.0,
    )
    (incident,) = Console(any_store.tx).read().incidents
    assert [a.alert_id for a in incident.unacknowledged] == [1, 2]
    assert any_store.incidents.ack(1, "alice", 120.0, also=[2]) is not None
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.state == "acknowledged" and incident.unacknowledged == []
    _receive(any_store, make_alert("c", "firing", "medium", "QueueDepth", service="api"), at=130.0)
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.state == "firing"
    assert [a.alertname for a in incident.unacknowledged] == ["QueueDepth"]


def test_an_acknowledgement_naming_an_alert_without_an_incident_writes_nothing(
    any_store,
) -> None:
    _receive(any_store, make_alert("a", "firing", "high", "ErrorRateHigh", service="api"))
    assert any_store.incidents.ack(1, "alice", 120.0, also=[99]) is None
    assert any_store.incidents.find(1)["acked_at"] is None


def test_firing_by_severity_then_age_and_resolved_below(any_store) -> None:
    _receive(any_store, make_alert("old", "firing", "high", "A", service="old"), at=100.0)
    _receive(any_store, make_alert("new", "firing", "high", "B", service="new"), at=200.0)
    _receive(any_store, make_alert("crit", "firing", "critical", "C", service="crit"), at=300.0)
    _receive(any_store, make_alert("gone", "firing", "critical", "D", service="gone"), at=50.0)
    _receive(any_store, make_alert("gone", "resolved", "critical", "D", service="gone"), at=400.0)
    incidents = Console(any_store.tx).read().incidents
    assert [i.service for i in incidents] == ["crit", "old", "new", "gone"]
    assert [i.firing for i in incidents] == [True, True, True, False]
    assert incidents[-1].resolved_at == 400.0 and incidents[-1].started_at == 50.0


def test_the_deadline_comes_from_the_incident_row(any_store) -> None:
    _receive(any_store, make_alert("h", severity="high", service="api"), at=100.0)
    (incident,) = Console(any_store.tx).read().incidents
    assert incident.headline.deadline_at == 100.0 + 3600
    assert deadline(incident.headline.deadline_at, 100.0) == "respond within 1 h"
    assert deadline(incident.headline.deadline_at, 100.0 + 3600 + 300) == "overdue by 5 min"


def test_relative_times_and_durations() -> None:
    assert ago(1000.0 - 300, 1000.0) == "5 min ago"
    assert ago(1000.0 + 120, 1000.0) == "in 2 min"
    # Relative to now, to the minute: the page is rendered again once a minute.
    assert ago(1000.0 - 59, 1000.0) == "just now" and ago(1000.0 + 42, 1000.0) == "just now"
    assert deadline(1030.0, 1000.0) == "respond within 1 min"
    assert deadline(1000.0, 1030.0) == "overdue by under 1 min"
    assert duration(42) == "42 s", "a span between two moments keeps its seconds"
    assert duration(3600 + 20 * 60) == "1 h 20 min"
    assert duration(2 * 86400 + 3 * 3600) == "2 d 3 h"
    assert deadline(500.0, 500.0) == "respond now" and deadline(None, 1.0) == ""
    assert iso(0.0) == "1970-01-01T00:00:00Z"


def test_the_tie_breaking_alerts_are_the_ones_alertmanager_inhibits_with() -> None:
    # The console copies the inhibit rules' service-level sources; a rule added or
    # renamed in alertmanager.yml without the console would put a symptom first.
    config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())
    sources = {
        name
        for rule in config["inhibit_rules"]
        for matcher in rule["source_matchers"]
        if (named := re.fullmatch(r'alertname=~?"([^"]+)"', matcher))
        for name in named.group(1).split("|")
    }
    assert sources == INHIBITING_ALERTS


def _token(store: SqlStore) -> tuple:
    return Console(store.tx).change_token()


def test_the_change_token_stays_while_nothing_changes(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical", service="api"))
    assert _token(any_store) == _token(any_store)


def test_the_change_token_moves_with_every_table_the_console_reads(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical", service="api"), at=100.0)
    seen = [_token(any_store)]

    def changed() -> bool:
        seen.append(_token(any_store))
        return seen[-1] != seen[-2]

    _receive(any_store, make_alert("b", severity="high", service="db"), at=110.0)
    assert changed(), "a new alert"
    (job, other, *_) = any_store.outbox.claim(120.0, "w1", 30.0, 50)
    assert changed(), "a delivery claimed"
    any_store.outbox.retry_later(job, 130.0, "smtp: 421 busy")
    assert changed(), "a delivery to be retried"
    any_store.outbox.finish(
        DeliveryOutcome(other.id, other.claim, DeliveryStatus.DELIVERED, 131.0, "p")
    )
    assert changed(), "a delivery delivered"
    any_store.incidents.ack(1, "alice", 140.0)
    assert changed(), "an incident acknowledged"
    _receive(any_store, make_alert("a", "resolved", "critical", service="api"), at=150.0)
    assert changed(), "an alert resolved"
    with any_store.engine.begin() as conn:
        conn.execute(remediation_runs.insert().values(
            alert_id=2, event_id=2, playbook="restart", target="db", status="planned",
            attempts=0, next_attempt_at=160.0, planned_at=160.0))  # fmt: skip
    assert changed(), "a run planned"
    with any_store.engine.begin() as conn:
        conn.execute(remediation_steps.insert().values(
            run_id=1, step=0, action="run_command", params="{}", status="started",
            started_at=170.0))  # fmt: skip
    assert changed(), "a step started"
    with any_store.engine.begin() as conn:
        conn.execute(remediation_steps.update().values(status="succeeded", output="ok"))
    assert changed(), "a step ended"
    with any_store.engine.begin() as conn:
        conn.execute(remediation_runs.update().values(status="verified", finished_at=180.0))
    assert changed(), "a run ended"
    with any_store.engine.begin() as conn:
        conn.execute(remediation_runs.update().values(silence_note="silence expired"))
    assert changed(), "an ended run's silence noted"


def test_the_console_reads_runs_and_the_headline_alerts_newest_deliveries(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical", service="api"), at=100.0)
    _receive(any_store, make_alert("b", severity="low", service="api"), at=101.0)
    with any_store.engine.begin() as conn:
        conn.execute(remediation_runs.insert().values(
            alert_id=1, event_id=1, playbook="restart", target="api", status="verified",
            attempts=1, next_attempt_at=100.0, planned_at=100.0, finished_at=130.0))  # fmt: skip
        conn.execute(remediation_steps.insert().values(
            run_id=1, step=0, action="run_command", params="{}", status="succeeded",
            output="restarted", started_at=110.0, finished_at=120.0))  # fmt: skip
        extra = [{"alert_id": 1, "event_id": 1, "event_status": "firing", "channel": "log",
                  "recipient": "", "purpose": f"remind-{n}", "status": "delivered",
                  "attempts": 1, "next_attempt_at": 200.0 + n, "received_at": 200.0 + n}
                 for n in range(DELIVERIES_PER_HEADLINE)]  # fmt: skip
        conn.execute(deliveries.insert(), extra)
    view = Console(any_store.tx).read()
    (run,) = view.runs[1]
    assert (run["playbook"], run["status"]) == ("restart", "verified")
    assert [(s["action"], s["output"]) for s in run["steps"]] == [("run_command", "restarted")]
    shown = view.deliveries[1]
    assert len(shown) == DELIVERIES_PER_HEADLINE and view.delivery_count(1) == 3 + len(extra)
    assert shown[-1]["purpose"] == f"remind-{DELIVERIES_PER_HEADLINE - 1}", "the newest, in order"
    assert view.tallies[1] == {"pending": 2, "delivered": 1 + len(extra)}
    assert 2 not in view.deliveries and view.tallies[2] == {"pending": 1}  # its log line


def test_an_incident_carries_its_whole_row_and_closed_by_hand_is_not_firing(any_store) -> None:
    _receive(any_store, make_alert("a", severity="high", service="api"), at=100.0)
    with any_store.engine.begin() as conn:
        conn.execute(incidents.update().values(flag="email delivery failed", closed_at=150.0))
    (incident,) = Console(any_store.tx).read().incidents
    assert (
        incident.headline.status == "firing"
        and incident.headline.incident["flag"] == "email delivery failed"
    )
    assert not incident.firing and incident.resolved_at == 150.0


def test_recent_failures_per_channel_newest_first(any_store) -> None:
    _receive(any_store, make_alert("a", severity="critical", service="api"), at=100.0)
    rows = [{"alert_id": 1, "event_id": 1, "event_status": "firing", "channel": "email",
             "recipient": f"r{n}", "purpose": "notify", "status": "pending", "attempts": 1,
             "next_attempt_at": 100.0, "received_at": 100.0 + n, "last_error": f"421 busy {n}"}
            for n in range(FAILURES_PER_CHANNEL + 2)]  # fmt: skip
    with any_store.engine.begin() as conn:
        conn.execute(deliveries.insert(), rows)
    view = Console(any_store.tx).read()
    assert view.failure_counts == {"email": FAILURES_PER_CHANNEL + 2}
    errors = [f["last_error"] for f in view.failures["email"]]
    assert errors == [f"421 busy {n}" for n in range(FAILURES_PER_CHANNEL + 1, 1, -1)]
    assert view.failures["email"][0]["at"] == 100.0 + FAILURES_PER_CHANNEL + 1
