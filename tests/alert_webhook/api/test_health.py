"""api/health.py: liveness, and readiness naming the store, the loops and each channel."""

from __future__ import annotations

from webhook_support import CONTACTS


def test_healthz_answers_without_touching_the_store(app_factory, store) -> None:
    client = app_factory().test_client()
    store.dispose()
    assert client.get("/healthz").get_json() == {"status": "ok"}


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
