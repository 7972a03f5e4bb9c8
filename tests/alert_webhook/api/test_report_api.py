"""api/reports.py and dashboard/report.py: the report in Markdown and as a page,
with the auth of the other /api routes and pages; follow-ups from the page's
form (login + CSRF) and with the bearer token; hostile values stay text in the
page; 404 and 409 in words."""

from __future__ import annotations

import re

import pytest
from webhook_support import CONTACTS, SECRET_KEY, csrf_token, log_in, make_alert, with_operator
from webhook_support import make_notification as notify

from alert_webhook.web.security import CONTENT_SECURITY_POLICY

AUTH = {"Authorization": "Bearer t"}
TOKEN = {"ALERT_WEBHOOK_TOKEN": "t", **SECRET_KEY}
HOSTILE = "<img src=x onerror=alert(1)>[x](javascript:alert(1))\n# h ```"


def _closed(client, **labels: str) -> None:
    alert = make_alert("a", **labels)
    client.post("/alerts", json=notify(alert), headers=AUTH)
    client.post("/alerts", json=notify({**alert, "status": "resolved"}), headers=AUTH)


@pytest.fixture
def client(app_factory):
    return app_factory(with_operator(CONTACTS, require_login=True), env=TOKEN).test_client()


def test_the_report_is_markdown_for_the_token_or_a_login_and_nobody_else(client) -> None:
    _closed(client)
    assert client.get("/api/incidents/1/report").status_code == 401
    resp = client.get("/api/incidents/1/report", headers=AUTH)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert resp.get_data(as_text=True).startswith("# Post-incident report: incident 1, ")
    log_in(client)
    assert client.get("/api/incidents/1/report").status_code == 200


def test_open_and_unknown_incidents_are_refused_in_words(client) -> None:
    client.post("/alerts", json=notify(make_alert("a")), headers=AUTH)
    resp = client.get("/api/incidents/1/report", headers=AUTH)
    assert resp.status_code == 409
    assert "incident 1 is still open (1 alert firing, since " in resp.get_json()["error"]
    resp = client.get("/api/incidents/9/report", headers=AUTH)
    assert (resp.status_code, resp.get_json()) == (
        404,
        {"error": "no incident 9: no alert has that id"},
    )
    log_in(client)
    page = client.get("/incidents/9/report")
    assert page.status_code == 404 and "no incident 9: no alert has that id" in page.get_data(
        as_text=True
    )
    assert client.get("/incidents/1/report").status_code == 409


def test_the_page_needs_a_login_sends_the_csp_and_shows_values_as_text(client) -> None:
    _closed(client, service=HOSTILE)
    assert client.get("/incidents/1/report").status_code == 303  # to the login page
    log_in(client)
    page = client.get("/incidents/1/report")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert "<img" not in html and "javascript:" not in html.replace("javascript\\:", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html.replace("\\", "")
    body = re.search(r'<pre id="report">(.*?)</pre>', html, re.S)[1]
    assert "<" not in body  # every tag-like character of the Markdown is escaped


def test_an_operator_adds_a_follow_up_from_the_page_with_the_csrf_token(client) -> None:
    _closed(client)
    log_in(client)
    token = csrf_token(client.get("/incidents/1/report").get_data(as_text=True))
    refused = client.post("/api/incidents/1/follow-ups", data={"note": "x"})
    assert refused.status_code == 400  # no CSRF token
    done = client.post(
        "/api/incidents/1/follow-ups", data={"note": f"alert {HOSTILE}", "csrf_token": token}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(
        "/incidents/1/report#follow-ups"
    )
    md = client.get("/api/incidents/1/report").get_data(as_text=True)
    assert md.rstrip().endswith(
        r"alice: alert \<img src=x onerror=alert\(1\)\>\[x\]\(javascript\:alert\(1\)\) \# h \`\`\`"
    )
    blank = client.post("/api/incidents/1/follow-ups", data={"note": " ", "csrf_token": token})
    assert blank.status_code == 400 and "note: required" in blank.get_data(as_text=True)


def test_a_script_adds_a_follow_up_with_the_token_but_not_to_an_open_incident(
    client, clock
) -> None:
    _closed(client)
    resp = client.post("/api/incidents/1/follow-ups", json={"note": "raise limits"}, headers=AUTH)
    assert resp.status_code == 201
    assert resp.get_json()["follow_up"] == {
        "incident_id": 1, "id": 1, "note": "raise limits", "added_by": "api token",
        "added_at": clock.now,
    }  # fmt: skip
    client.post("/alerts", json=notify(make_alert("b", alertname="Other")), headers=AUTH)
    assert (
        client.post("/api/incidents/2/follow-ups", json={"note": "n"}, headers=AUTH).status_code
        == 409
    )
    assert client.post("/api/incidents/1/follow-ups", json={"note": "n"}).status_code == 401


def test_the_console_links_a_resolved_incident_to_its_report(client) -> None:
    _closed(client)
    log_in(client)
    html = client.get("/").get_data(as_text=True)
    assert '<a class="report" href="/incidents/1/report">report</a>' in html
