"""api/health.py: liveness, and readiness naming the store, the loops and each channel."""

from __future__ import annotations

from webhook_support import CONTACTS, make_alert, make_notification

from alert_webhook.cli.front import LIVENESS_BODY


def test_healthz_answers_without_touching_the_store(app_factory, store) -> None:
    client = app_factory().test_client()
    store.dispose()
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_the_fronts_own_liveness_answer_is_the_apps(app_factory) -> None:
    """The front answers /healthz itself, without a request thread (cli/front.py):
    its body is written out there and must stay what the app answers."""
    answer = app_factory().test_client().get("/healthz")
    assert answer.data == LIVENESS_BODY
    assert answer.content_type == "application/json"


def test_readyz_reports_workers_and_unconfigured_channels(app_factory) -> None:
    body = app_factory(CONTACTS).test_client().get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["store"] == "ok" and body["workers"] == "not started"
    assert body["channels"]["dashboard"] == "ok"
    assert body["channels"]["sms"].startswith("not configured")
    assert body["channels"]["email"].startswith("not configured")


def test_readyz_is_503_once_the_loops_have_stopped(app_factory) -> None:
    app = app_factory(CONTACTS)
    workers = app.extensions["alert_webhook"].workers
    workers.start()
    assert app.test_client().get("/readyz").get_json()["workers"] == "running"
    workers.stop()
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["workers"] == "stopped"


def test_each_channel_says_on_metrics_whether_it_is_configured(app_factory) -> None:
    app = app_factory(CONTACTS)
    get = app.extensions["alert_webhook"].metrics.registry.get_sample_value
    assert get("alert_webhook_channel_configured", {"channel": "dashboard"}) == 1
    assert get("alert_webhook_channel_configured", {"channel": "sms"}) == 0
    assert "alert_webhook_channel_configured" in app.test_client().get("/metrics").get_data(
        as_text=True
    )


def _scraped(client, name: str) -> float | None:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_backlog_gauges_are_read_from_the_store_at_scrape_time(app_factory, clock) -> None:
    app = app_factory(CONTACTS)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))  # sms + email pending
    clock.advance(7)
    assert _scraped(client, "alert_webhook_deliveries_pending") == 2
    assert _scraped(client, "alert_webhook_oldest_pending_delivery_age_seconds") == 7
    app.extensions["alert_webhook"].workers.step("deliveries")  # both skipped: no providers
    assert _scraped(client, "alert_webhook_deliveries_pending") == 0
    assert _scraped(client, "alert_webhook_oldest_pending_delivery_age_seconds") == 0
