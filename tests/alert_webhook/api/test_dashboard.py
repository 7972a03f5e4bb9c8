"""dashboard/: the page shows alerts, incidents (with ack), messages, channels, breakers."""

from __future__ import annotations

from webhook_support import (
    CONTACTS,
    SECRET_KEY,
    csrf_token,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)


def test_page_shows_incident_messages_and_unconfigured_channels(app_factory) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    app.extensions["alert_webhook"].workers.run_once()
    page = client.get("/").get_data(as_text=True)
    assert 'data-incident="1"' in page and "Log in to acknowledge" in page
    assert 'data-channel="sms"' in page and "not configured" in page
    assert "skipped" in page and "delivered" in page
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Acknowledge" in page and "Logged in as alice" in page
    resp = client.post("/api/incidents/1/ack", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 303
    assert "by alice" in client.get("/").get_data(as_text=True)


def test_page_without_anything_yet(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "No alerts received yet." in page and "No open incidents." in page
