"""delivery/scheduler.py: deadlines, reminders, the watchdog; ack via the API. Fake clock."""

from __future__ import annotations

import json

import pytest
from webhook_support import CONTACTS, make_alert, make_notification


@pytest.fixture
def app(app_factory):
    return app_factory(CONTACTS)


def _post(app, *alerts) -> None:
    resp = app.test_client().post("/alerts", json=make_notification(*alerts))
    assert resp.status_code == 200


def _step(app) -> None:
    """One worker pass, one scheduler pass, one more worker pass for what it enqueued."""
    workers = app.extensions["alert_webhook"].workers
    workers.worker.run_once()
    workers.scheduler.run_once()
    workers.worker.run_once()


def _rows(store, purpose: str) -> list[tuple[str, str]]:
    return sorted(
        (d["channel"], d["recipient"]) for d in store.outbox.list() if d["purpose"] == purpose
    )


def _metric(app, name: str, **labels: str) -> float:
    return app.extensions["alert_webhook"].metrics.registry.get_sample_value(name, labels) or 0.0


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
    resp = app.test_client().post("/api/incidents/1/ack", json={"by": "alice"})
    assert resp.status_code == 200 and resp.get_json()["incident"]["acked_by"] == "alice"
    clock.advance(10 * 3600)
    _step(app)
    assert _rows(store, "tier-2") == [] and _rows(store, "remind-1") == []


def test_ack_of_unknown_incident_is_404_and_needs_the_token(app_factory) -> None:
    client = app_factory(CONTACTS).test_client()
    assert client.post("/api/incidents/99/ack").status_code == 404
    guarded = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    assert guarded.post("/api/incidents/1/ack").status_code == 401


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


def test_readyz_reports_workers_and_unconfigured_channels(app) -> None:
    body = app.test_client().get("/readyz").get_json()
    assert body["store"] == "ok" and body["workers"] == "not started"
    assert body["channels"]["dashboard"] == "ok"
    assert body["channels"]["sms"].startswith("not configured")
    assert json.dumps(body).count("not configured") >= 2


def test_workers_run_the_scheduler_at_most_once_per_interval(app, clock) -> None:
    workers = app.extensions["alert_webhook"].workers
    calls: list[float] = []
    workers.scheduler.run_once = lambda: calls.append(clock.now)
    workers.run_once()
    workers.run_once()
    clock.advance(1)
    workers.run_once()
    assert calls == [clock.now - 1, clock.now]


def test_started_workers_stop(app) -> None:
    workers = app.extensions["alert_webhook"].workers
    workers.start()
    assert workers.running
    workers.stop()
    assert not workers.running and workers.started
