"""reconcile.py: alerts held as firing that Alertmanager no longer has are recorded
resolved, through the intake, once; never while Alertmanager may not yet hold
what still fires. A fake Alertmanager and a fake clock; no sleeping."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from webhook_support import CONTACTS, FakeClock, concurrently, make_alert, make_notification

from alert_webhook import create_app
from alert_webhook.clients.alertmanager import AlertmanagerError, HeldAlert
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.metrics.registry import create_metrics

AUTH = {"Authorization": "Bearer t"}
INTERVAL = 10.0
WARMUP = 180.0  # the default


@dataclass
class FakeAlertmanager:
    """Alertmanager's API as the reconcile loop reads it: the active alerts, its
    start time, or a failure."""

    started: float
    alerts: list[HeldAlert] = field(default_factory=list)
    failure: str | None = None
    base_url: str = "http://alertmanager.invalid"
    asked: int = 0

    def list_alerts(self, matchers=None) -> list[HeldAlert]:  # noqa: ANN001
        self.asked += 1
        if self.failure:
            raise AlertmanagerError(f"list alerts: {self.failure}")
        return list(self.alerts)

    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started).astimezone()

    def hold(self, alert: dict, state: str = "active") -> None:
        """Prometheus's part: the alert instance is active there."""
        starts = datetime.fromisoformat(alert["startsAt"])
        self.alerts.append(HeldAlert(alert["fingerprint"], alert["labels"], state, starts))

    def drop(self, fingerprint: str) -> None:
        """Prometheus sent the resolution: Alertmanager no longer lists the alert."""
        self.alerts = [a for a in self.alerts if a.fingerprint != fingerprint]


@pytest.fixture
def am(clock) -> FakeAlertmanager:
    return FakeAlertmanager(started=clock.now - 3600)  # up for an hour


def _app(app_factory, am, **reconcile):
    data = {**CONTACTS, "reconcile": {"interval_seconds": INTERVAL, **reconcile}}
    return app_factory(data, {"ALERT_WEBHOOK_TOKEN": "t"}, alertmanager=am)


@pytest.fixture
def app(app_factory, am):
    return _app(app_factory, am)


def _post(app, *alerts) -> None:
    resp = app.test_client().post("/alerts", json=make_notification(*alerts), headers=AUTH)
    assert resp.status_code == 200


def _reconcile(app) -> int:
    return app.extensions["alert_webhook"].workers.step("reconcile")


def _status(store, fingerprint: str = "fp1") -> str:
    (alert,) = store.list_alerts(fingerprint=fingerprint)
    return alert.status


def _channels(store, state: str) -> list[str]:
    return sorted(d["channel"] for d in store.outbox.list() if d["event_status"] == state)


def test_an_alert_gone_from_alertmanager_in_two_looks_is_recorded_resolved(
    app, am, store, clock
) -> None:
    alert = make_alert("fp1", severity="high")
    am.hold(alert)
    _post(app, alert)
    assert _reconcile(app) == 0  # still active there
    am.drop("fp1")  # Prometheus resolved it; Alertmanager's resolved message waits
    clock.advance(INTERVAL)
    assert _reconcile(app) == 0 and _status(store) == "firing"  # missing once
    clock.advance(INTERVAL - 1)
    assert _reconcile(app) == 0  # not yet the interval apart
    clock.advance(1)
    assert _reconcile(app) == 1
    assert _status(store) == "resolved"
    incident = store.incidents.find(1)
    assert (incident["status"], incident["closed_at"]) == ("resolved", clock.now)
    assert _channels(store, "resolved") == _channels(store, "firing") == ["dashboard", "email"]
    assert store.count("alert_events") == 2
    deliveries = store.count("deliveries")
    clock.advance(240)  # Alertmanager's own resolved notification, at the group interval
    _post(app, make_alert("fp1", status="resolved", severity="high"))
    assert store.count("alert_events") == 2 and store.count("deliveries") == deliveries
    assert _reconcile(app) == 0


def test_an_alert_still_active_silenced_or_inhibited_is_left_firing(app, am, store, clock) -> None:
    alerts = [make_alert(f"fp{i}", severity="medium") for i in range(3)]
    for alert, state in zip(alerts, ["active", "suppressed", "unprocessed"], strict=True):
        am.hold(alert, state)
    _post(app, *alerts)
    for _ in range(5):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert [a.status for a in store.list_alerts()] == ["firing"] * 3


def test_a_start_alertmanager_lists_to_the_millisecond_is_the_same_instance(
    app, am, store, clock
) -> None:
    # Notifications carry every digit of startsAt; the API lists milliseconds.
    alert = make_alert("fp1", severity="medium", starts_at="2026-12-06T23:41:16.199640878Z")
    _post(app, alert)
    am.hold({**alert, "startsAt": "2026-12-06T23:41:16.199Z"})
    for _ in range(3):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert _status(store) == "firing"


def test_the_same_labels_with_another_start_is_another_instance(app, am, store, clock) -> None:
    first = make_alert("fp1", severity="medium")
    _post(app, first)
    am.hold(make_alert("fp1", severity="medium", starts_at="2026-11-28T10:00:00Z"))
    _reconcile(app)
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1  # the instance the webhook knows ended
    assert _status(store) == "resolved"


def test_nothing_is_resolved_while_alertmanager_is_warming_up(
    app_factory, am, store, clock
) -> None:
    # Alertmanager restarted: it lists nothing until Prometheus sends again what fires.
    app = _app(app_factory, am)
    _post(app, make_alert("fp1"))
    am.started = clock.now
    for _ in range(int(WARMUP / INTERVAL)):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert _status(store) == "firing"
    # Nothing to judge yet, so nothing was listed (nor the store read: a pass runs
    # beside ingest, and a storm may hold thousands of alerts firing).
    assert am.asked == 0
    assert _reconcile(app) == 0  # warmed up: the first answer that counts
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1


def test_prometheus_resending_within_the_warm_up_keeps_the_alert(app, am, store, clock) -> None:
    alert = make_alert("fp1")
    _post(app, alert)
    am.started = clock.now  # restarted, empty
    clock.advance(75)
    am.hold(alert)  # Prometheus's resend delay and evaluation later
    for _ in range(20):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert _status(store) == "firing"


@pytest.mark.parametrize("failure", ["ConnectionError from http://127.0.0.1:9093", "not a list"])
def test_a_failing_alertmanager_changes_nothing_and_is_logged_once(
    app, am, store, clock, caplog, failure
) -> None:
    _post(app, make_alert("fp1"))
    am.failure = failure
    with caplog.at_level(logging.INFO, logger="alert_webhook.reconcile"):
        for _ in range(5):
            assert _reconcile(app) == 0
            clock.advance(INTERVAL)
        assert _status(store) == "firing"
        assert caplog.text.count(failure) == 1
        am.failure = None  # it answers again, without the alert
        assert _reconcile(app) == 0  # a failure forgets earlier looks: start over
        assert "answers again" in caplog.text
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1


def test_a_failure_between_two_looks_starts_the_count_again(app, am, store, clock) -> None:
    _post(app, make_alert("fp1"))
    _reconcile(app)  # missing once
    clock.advance(INTERVAL)
    am.failure = "timeout"
    _reconcile(app)
    am.failure = None
    clock.advance(INTERVAL)
    assert _reconcile(app) == 0  # missing once, again
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1


def test_the_webhooks_own_alarm_is_never_reconciled(app, am, store, clock) -> None:
    _post(app, make_alert("w", alertname="Watchdog", severity="none"))
    clock.advance(301)
    app.extensions["alert_webhook"].workers.step("duties")  # AlertingPipelineBroken
    (alarm,) = store.list_alerts(status="firing")
    for _ in range(3):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert am.asked == 0  # nothing of Alertmanager's to check
    assert [a.status for a in store.list_alerts()] == ["firing"]


def test_an_alert_an_operator_silenced_is_left_to_the_silence_watch(app, am, store, clock) -> None:
    _post(app, make_alert("fp1"), make_alert("fp2"))
    store.incidents.record_silence(1, "silence-1", clock.now + 600, "alice")
    _reconcile(app)
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1  # fp2 only
    assert (_status(store, "fp1"), _status(store, "fp2")) == ("firing", "resolved")
    clock.advance(600)  # the silence ran out: Alertmanager tells no more, this does
    _reconcile(app)
    clock.advance(INTERVAL)
    assert _reconcile(app) == 1 and _status(store, "fp1") == "resolved"


def test_a_store_restored_from_a_snapshot_is_repaired_from_start_up(
    app_factory, am, store, clock
) -> None:
    # The snapshot holds an alert firing that resolved after it: Alertmanager
    # sent that resolution to the store that was lost, and never sends it again.
    before = _app(app_factory, am)
    _post(before, make_alert("fp1"), make_alert("fp2"))
    am.hold(make_alert("fp2"))
    clock.advance(3600)
    restored = _app(app_factory, am)  # the webhook starts on the restored store
    assert _reconcile(restored) == 0  # its loop's first pass, at start-up
    clock.advance(INTERVAL)
    assert _reconcile(restored) == 1
    assert (_status(store, "fp1"), _status(store, "fp2")) == ("resolved", "firing")


def test_switched_off_it_never_asks(app_factory, am, store, clock) -> None:
    app = _app(app_factory, am, enabled=False)
    _post(app, make_alert("fp1"))
    for _ in range(3):
        assert _reconcile(app) == 0
        clock.advance(INTERVAL)
    assert am.asked == 0


def test_two_replicas_record_the_resolution_once(any_store, am) -> None:
    # Both replicas saw it missing twice and record it in the same instant: the
    # store's unique resolved state change decides (on PostgreSQL, concurrently).
    clock = FakeClock()
    settings = settings_from_mapping(
        {**CONTACTS, "reconcile": {"interval_seconds": INTERVAL}}, {"ALERT_WEBHOOK_TOKEN": "t"}
    )
    replicas = [
        create_app(
            settings, store=any_store, metrics=create_metrics(), clock=clock, alertmanager=am
        )
        for _ in range(2)
    ]
    _post(replicas[0], *(make_alert(f"fp{i}") for i in range(20)))
    for app in replicas:
        _reconcile(app)
    clock.advance(INTERVAL)
    done = concurrently(*(functools.partial(_reconcile, app) for app in replicas))
    assert sum(done) >= 20  # each replica recorded what it saw (the losers change nothing)
    assert [a.status for a in any_store.list_alerts()] == ["resolved"] * 20
    assert any_store.count("alert_events") == 40
    assert len(_channels(any_store, "resolved")) == 20 * 3  # sms, email, dashboard: once each


def test_the_log_line_of_a_reconciled_alert_is_one_line_whatever_its_name(
    app, am, store, clock, caplog
) -> None:
    _post(app, make_alert("fp1", alertname="Disk\u2028Full\x85\ninjected: line"))
    with caplog.at_level(logging.INFO, logger="alert_webhook.reconcile"):
        for _ in range(3):
            clock.advance(INTERVAL)
            _reconcile(app)
    (said,) = [r.getMessage() for r in caplog.records if "no longer active" in r.getMessage()]
    assert said.splitlines() == [said]
    assert "(Disk Full injected: line)" in said
