"""dashboard/: the page shows alerts, incidents (with ack), messages, channels, breakers."""

from __future__ import annotations

import re

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


def test_with_a_token_the_dashboard_form_acknowledges_and_a_forged_one_does_not(
    app_factory,
) -> None:
    app = app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "s3cret"})
    client = app.test_client()
    auth = {"Authorization": "Bearer s3cret"}
    client.post("/alerts", json=make_notification(make_alert("a")), headers=auth)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="form_token" value="([0-9a-f]{64})"', page)
    assert token, "the ack form carries a form token"
    assert "s3cret" not in page, "the secret itself never reaches the page"

    forged = client.post("/api/incidents/1/ack", data={"by": "x", "form_token": "0" * 64})
    assert forged.status_code == 403 and "form_token" in forged.get_json()["error"]
    without = client.post("/api/incidents/1/ack", json={"by": "script"})
    assert without.status_code == 401

    resp = client.post("/api/incidents/1/ack", data={"by": "dashboard", "form_token": token[1]})
    assert resp.status_code == 303
    assert "by dashboard" in client.get("/").get_data(as_text=True)


def test_a_form_token_is_bound_to_its_incident(app_factory) -> None:
    app = app_factory(CONTACTS, {"ALERT_WEBHOOK_TOKEN": "s3cret"})
    client = app.test_client()
    auth = {"Authorization": "Bearer s3cret"}
    client.post("/alerts", json=make_notification(make_alert("a"), make_alert("b")), headers=auth)
    page = client.get("/").get_data(as_text=True)
    tokens = dict(
        re.findall(r'data-incident="(\d+)".*?name="form_token" value="(\w+)"', page, re.S)
    )
    assert set(tokens) == {"1", "2"}
    resp = client.post("/api/incidents/2/ack", data={"by": "x", "form_token": tokens["1"]})
    assert resp.status_code == 403


HOSTILE_LINKS = [
    "javascript:alert(document.cookie)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/runbook",
]


def _alert_with_runbook(url: str) -> dict:
    alert = make_alert("x", severity="medium")
    alert["annotations"]["runbook_url"] = url
    return alert


def test_only_http_links_become_links_on_the_page(client) -> None:
    for i, url in enumerate(HOSTILE_LINKS):
        alert = _alert_with_runbook(url)
        alert["fingerprint"] = f"hostile{i}"
        assert client.post("/alerts", json=make_notification(alert)).status_code == 200
    page = client.get("/").get_data(as_text=True)
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert not [h for h in hrefs if not h.startswith(("http://", "https://", "/"))], hrefs
    assert not [h for h in hrefs if h.startswith("//")], hrefs
    assert "javascript:alert(document.cookie)" in page  # shown as text, not followable


def test_an_https_runbook_is_a_link(client) -> None:
    url = "https://example.org/runbooks/X?a=1&b=2"
    client.post("/alerts", json=make_notification(_alert_with_runbook(url)))
    page = client.get("/").get_data(as_text=True)
    assert '<a href="https://example.org/runbooks/X?a=1&amp;b=2">runbook</a>' in page


def test_the_page_has_no_inline_script_or_style(client) -> None:
    """The content security policy allows none: the page must not need any."""
    page = client.get("/").get_data(as_text=True)
    assert "<script" not in page and "<style" not in page and " style=" not in page
    css = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert css is not None
    with client.get(css.group(1)) as resp:
        assert resp.status_code == 200 and resp.mimetype == "text/css"
