"""dashboard/: the page shows incidents (with ack), their remediation runs (with
approval) and messages, channels, breakers."""

from __future__ import annotations

import re
import sys

import yaml
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
    assert "nobody was paged: SMS is not configured" in page and "dashboard: delivered" in page
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Acknowledge" in page and "Logged in as alice" in page
    resp = client.post("/api/incidents/1/ack", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 303
    assert "by alice" in client.get("/").get_data(as_text=True)


def test_page_without_anything_yet(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "No alerts received yet." in page and "No open incidents." in page


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
    link = '<a class="runbook" href="https://example.org/runbooks/X?a=1&amp;b=2">runbook</a>'
    assert link in page


def test_the_page_has_no_inline_script_or_style(client) -> None:
    """The content security policy allows none: the page must not need any."""
    page = client.get("/").get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    assert scripts and all(body == "" for body in scripts)
    assert all(
        src.startswith("/dashboard/static/") for src in re.findall(r'<script src="([^"]+)"', page)
    )
    assert len(re.findall(r"<script src=", page)) == len(scripts)
    assert "<style" not in page and " style=" not in page
    css = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert css is not None
    with client.get(css.group(1)) as resp:
        assert resp.status_code == 200 and resp.mimetype == "text/css"


def test_a_run_awaiting_approval_is_shown_with_approve_and_reject_for_operators(
    app_factory, tmp_path
) -> None:
    step = {"action": "run_command", "params": {"argv": [sys.executable, "-c", "pass"]}}
    book = {"name": "restore-db", "match": {"alertname": "DbCorrupt"}, "target": ["service"],
            "actions": [step], "require_approval": True}  # fmt: skip
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": [book]}))
    settings = with_operator({"remediation": {"enabled": True, "playbooks_file": str(path)}})
    app = app_factory(settings, SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert(alertname="DbCorrupt", service="db")))
    app.extensions["alert_webhook"].workers.step("remediation")
    page = client.get("/").get_data(as_text=True)
    assert 'data-run="1"' in page and "awaiting_approval" in page
    assert re.search(
        r"waits for an operator&#39;s approval</span>\s*"
        r'<span class="approval">until 2027-01-15 08:15:00 UTC',
        page,
    )
    assert "Log in to approve" in page and "Approve</button>" not in page
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    assert 'action="/api/remediations/1/approve"' in page
    assert 'action="/api/remediations/1/reject"' in page
    resp = client.post("/api/remediations/1/approve", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 303
    assert "approved by alice" in client.get("/").get_data(as_text=True)
