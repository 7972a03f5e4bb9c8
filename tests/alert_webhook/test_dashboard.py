"""dashboard/: the page shows alerts, incidents (with ack), messages, channels, breakers."""

from __future__ import annotations

from webhook_support import CONTACTS, make_alert, make_notification


def test_page_shows_incident_messages_and_unconfigured_channels(app_factory) -> None:
    app = app_factory(CONTACTS)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    app.extensions["alert_webhook"].workers.run_once()
    page = client.get("/").get_data(as_text=True)
    assert 'data-incident="1"' in page and "Acknowledge" in page
    assert 'data-channel="sms"' in page and "not configured" in page
    assert "skipped" in page and "delivered" in page
    resp = client.post("/api/incidents/1/ack", data={"by": "dashboard"})
    assert resp.status_code == 303
    assert "by dashboard" in client.get("/").get_data(as_text=True)


def test_page_without_anything_yet(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "No alerts received yet." in page and "No open incidents." in page
