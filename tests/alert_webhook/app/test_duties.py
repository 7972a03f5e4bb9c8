"""The duties loop (app/duties.py) driven through the app: incidents/deadlines.py's
deadlines and reminders, and the watchdog. Fake clock."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from webhook_support import CONTACTS, make_alert, make_notification

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def app(app_factory):
    return app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "t"})


def _post(app, *alerts) -> None:
    resp = app.test_client().post("/alerts", json=make_notification(*alerts), headers=AUTH)
    assert resp.status_code == 200


def _step(app) -> None:
    """One worker pass, one scheduler pass, one more worker pass for what it enqueued."""
    workers = app.extensions["alert_webhook"].workers
    workers.step("deliveries")
    workers.step("duties")
    workers.step("deliveries")


def _rows(store, purpose: str) -> list[tuple[str, str]]:
    return sorted(
        (d["channel"], d["recipient"]) for d in store.outbox.list() if d["purpose"] == purpose
    )


def _metric(app, name: str, **labels: str) -> float | None:
    return app.extensions["alert_webhook"].metrics.registry.get_sample_value(name, labels)


def test_unacknowledged_past_deadline_reaches_the_next_tier_once(app, store, clock) -> None:
    _post(app, make_alert("a", severity="high"))
    _step(app)
    clock.advance(3599)
    _step(app)
    assert _rows(store, "tier-2") == []
    clock.advance(1)
    _step(app)
    _step(app)
    assert _rows(store, "tier-2") == [("email", "lead@example.org")]
    assert _metric(app, "alert_webhook_escalations_total", reason="deadline_missed") == 1
    (incident,) = app.test_client().get("/api/incidents").get_json()["incidents"]
    assert incident["tier"] == 2 and "tier 2" in incident["flag"]


def test_acknowledged_incident_is_not_escalated(app, store, clock) -> None:
    _post(app, make_alert("a", severity="critical"))
    resp = app.test_client().post("/api/incidents/1/ack", json={"by": "alice"}, headers=AUTH)
    assert resp.status_code == 200 and resp.get_json()["incident"]["acked_by"] == "alice"
    clock.advance(10 * 3600)
    _step(app)
    assert _rows(store, "tier-2") == [] and _rows(store, "remind-1") == []


def test_an_acknowledgement_of_several_alerts_leaves_a_later_one_to_escalate(
    app, store, clock
) -> None:
    # The console's Acknowledge names the alerts of its incident it showed; one
    # that fires afterwards is the incident's again, with its own deadline.
    _post(app, make_alert("a", severity="high", service="api"),
          make_alert("b", severity="high", alertname="ErrorRateHigh", service="api"))  # fmt: skip
    body = {"by": "alice", "alerts": [2]}
    assert (
        app.test_client().post("/api/incidents/1/ack", json=body, headers=AUTH).status_code == 200
    )
    clock.advance(600)
    _post(app, make_alert("c", severity="high", alertname="QueueDepth", service="api"))
    clock.advance(3600)
    _step(app)
    _step(app)
    tiers = {
        i["alert_id"]: i["tier"]
        for i in app.test_client().get("/api/incidents").get_json()["incidents"]
    }
    assert tiers == {1: 1, 2: 1, 3: 2}


def test_critical_reminds_at_the_interval_never_on_repeats(app, store, clock) -> None:
    _post(app, make_alert("a"))
    _step(app)  # dashboard delivered (email/sms have no providers: skipped)
    for _ in range(5):  # Alertmanager repeats within the hour change nothing
        clock.advance(600)
        _post(app, make_alert("a"))
        _step(app)
    assert _rows(store, "remind-1") == []
    clock.advance(600)
    _step(app)
    _step(app)
    assert _rows(store, "remind-1") == [("dashboard", "")]
    clock.advance(3600)
    _step(app)
    assert _rows(store, "remind-2") == [("dashboard", "")]
    _post(app, make_alert("a", status="resolved"))
    clock.advance(3600)
    _step(app)
    assert _rows(store, "remind-3") == []


def test_silent_watchdog_raises_pipeline_broken_and_its_return_resolves_it(
    app, store, clock
) -> None:
    _step(app)
    assert store.list_alerts() == []  # never seen: not armed
    _post(app, make_alert("w", alertname="Watchdog", severity="none"))
    clock.advance(300)
    _step(app)
    assert store.list_alerts() == []
    clock.advance(1)
    _step(app)
    _step(app)
    (alert,) = store.list_alerts(status="firing")
    assert alert.alertname == "AlertingPipelineBroken" and alert.severity == "critical"
    assert alert.annotations["runbook_url"].endswith("/docs/runbooks/AlertingPipelineBroken.md")
    assert alert.annotations["runbook_url"].startswith("https://")
    assert ("dashboard", "") in _rows(store, "notify")
    assert _metric(app, "alert_webhook_escalations_total", reason="watchdog_silent") == 1
    _post(app, make_alert("w", alertname="Watchdog", severity="none"))
    _step(app)
    assert store.list_alerts(status="firing") == []
    assert [a.status for a in store.list_alerts()] == ["resolved"]
    assert _metric(app, "alert_webhook_last_watchdog_timestamp_seconds") == clock.now


# Issue 22: the stack started again after a pause longer than the watchdog's
# timeout. The store's last heartbeat is an hour old, but nobody was listening
# during that hour: silence counts from this process's start.

WATCHDOG = make_alert("w", alertname="Watchdog", severity="none")


def _stopped_an_hour_ago(app_factory, store, clock):
    """A webhook that heard the heartbeat, was stopped, and starts an hour later."""
    before = app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "t"})
    _post(before, WATCHDOG)
    last_seen = clock.now
    clock.advance(3600)
    return app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "t"}), last_seen


def test_a_start_after_an_hour_down_raises_no_alarm_while_the_heartbeat_returns(
    app_factory, store, clock
) -> None:
    app, _last_seen = _stopped_an_hour_ago(app_factory, store, clock)
    _step(app)
    clock.advance(299)  # Prometheus and Alertmanager still coming up
    _step(app)
    assert store.list_alerts() == [] and store.outbox.list() == []
    _post(app, WATCHDOG)  # the heartbeat arrives
    clock.advance(300)
    _step(app)
    assert store.list_alerts() == [] and store.outbox.list() == []
    assert _metric(app, "alert_webhook_escalations_total", reason="watchdog_silent") is None


def test_no_heartbeat_for_the_timeout_after_the_start_still_raises_the_alarm(
    app_factory, store, clock
) -> None:
    app, last_seen = _stopped_an_hour_ago(app_factory, store, clock)
    _step(app)
    clock.advance(300)
    _step(app)
    assert store.list_alerts() == []
    clock.advance(1)
    _step(app)
    (alert,) = store.list_alerts(status="firing")
    assert alert.alertname == "AlertingPipelineBroken"
    assert datetime.fromisoformat(alert.starts_at).timestamp() == last_seen  # the real silence


def test_an_alarm_raised_before_the_pause_waits_for_a_real_heartbeat_to_resolve(
    app_factory, store, clock
) -> None:
    before = app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "t"})
    _post(before, WATCHDOG)
    clock.advance(301)
    _step(before)
    assert [a.status for a in store.list_alerts()] == ["firing"]
    clock.advance(3600)  # stopped with the alarm up; started again
    app = app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "t"})
    _step(app)
    assert [a.status for a in store.list_alerts()] == ["firing"]  # not back yet
    _post(app, WATCHDOG)
    _step(app)
    assert [a.status for a in store.list_alerts()] == ["resolved"]


# Issue 27, idle cost: the duties loop runs every second, and the watchdog's two
# store reads each pass were the top of an idle webhook's profile. Heard and not
# raised, it reads every timeout/30 at most, yet raises exactly when it did.


class _CountingStore:
    def __init__(self, last: float | None) -> None:
        self.last, self.reads, self.firing = last, 0, []

    def last_heartbeat(self, _name: str) -> float | None:
        self.reads += 1
        return self.last

    def list_alerts(self, **_query: object) -> list:
        self.reads += 1
        return self.firing


def _watchdog(store: _CountingStore, clock, raised: list) -> object:
    from alert_webhook.app.duties import Watchdog
    from alert_webhook.delivery.settings import WatchdogSettings
    from alert_webhook.metrics.registry import create_metrics

    def accept(notification, _body, _now) -> None:
        raised.append(notification.status)
        alarm = SimpleNamespace(starts_at=notification.alerts[0].startsAt.isoformat())
        store.firing = [alarm] if notification.status == "firing" else []

    return Watchdog(WatchdogSettings(), "https://runbooks", store, accept, create_metrics(), clock)


def test_an_idle_watchdog_reads_the_store_every_timeout_over_30_not_every_pass(clock) -> None:
    store, raised = _CountingStore(clock.now), []
    watchdog = _watchdog(store, clock, raised)
    for _ in range(60):  # a minute of passes, the heartbeat heard
        watchdog()
        clock.advance(1)
    assert store.reads <= 2 * 60 / 10, f"{store.reads} store reads in a minute"
    store.last = clock.now  # Prometheus resends the heartbeat
    for _ in range(300):
        watchdog()
        clock.advance(1)
    assert raised == [], "heard within the timeout"


def test_the_skipping_watchdog_still_raises_the_second_the_silence_passes(clock) -> None:
    store, raised = _CountingStore(clock.now), []
    watchdog = _watchdog(store, clock, raised)
    last = clock.now
    while clock.now - last <= 300:
        watchdog()
        assert raised == []
        clock.advance(1)
    watchdog()  # 301 s of silence
    assert raised == ["firing"]
    store.last = clock.now  # the heartbeat returns: resolved within timeout/30
    for _ in range(10):
        clock.advance(1)
        watchdog()
    assert raised == ["firing", "resolved"]
