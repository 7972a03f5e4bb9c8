"""GET /api/reports/noise and the page /reports/noise: the auth of the other
/api routes and pages, `since` parsed (a bad one is a 400 naming it), the
console links the page, and hostile label values stay text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update
from webhook_support import CONTACTS, SECRET_KEY, log_in, make_alert, with_operator
from webhook_support import make_notification as notify

from alert_webhook.db.schema import deliveries
from alert_webhook.web.security import CONTENT_SECURITY_POLICY

AUTH = {"Authorization": "Bearer t"}
TOKEN = {"ALERT_WEBHOOK_TOKEN": "t", **SECRET_KEY}
HOSTILE = "<img src=x onerror=alert(1)>[x](javascript:alert(1))\n# h"


@pytest.fixture
def client(app_factory):
    return app_factory(with_operator(CONTACTS, require_login=True), env=TOKEN).test_client()


def _noisy(client, store, clock, **labels: str) -> None:
    """One alert that paged (its messages delivered) and resolved by itself."""
    alert = make_alert("a", **labels)
    client.post("/alerts", json=notify(alert), headers=AUTH)
    with store.tx.write() as conn:
        conn.execute(update(deliveries).values(status="delivered"))
    clock.advance(90)
    client.post("/alerts", json=notify({**alert, "status": "resolved"}), headers=AUTH)


def test_the_report_is_json_for_the_token_or_a_login(client, store, clock) -> None:
    _noisy(client, store, clock, service="orders")
    assert client.get("/api/reports/noise").status_code == 401
    resp = client.get("/api/reports/noise?since=1d", headers=AUTH)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["until"] - body["since"] == 86400
    [rule] = body["rules"]
    assert rule == {
        "name": "DemoServiceDown", "fired": 1, "flaps": 0, "resolved_unacknowledged": 1,
        "median_duration_seconds": 90.0, "healed": 0, "healed_share": 0.0, "messages": 2,
        "never_acted_on": 1,
    }  # fmt: skip
    assert [s["name"] for s in body["services"]] == ["orders"]
    log_in(client)
    assert client.get("/api/reports/noise").status_code == 200  # 7d by default


@pytest.mark.parametrize("since", ["", "week", "7", "-1d", "0d", "999d", "<b>"])
def test_a_bad_since_is_a_400_naming_the_parameter(client, since: str) -> None:
    resp = client.get("/api/reports/noise", query_string={"since": since}, headers=AUTH)
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith("since: ")
    log_in(client)
    page = client.get("/reports/noise", query_string={"since": since})
    assert page.status_code == 400
    assert "since: " in page.get_data(as_text=True)


def test_the_window_leaves_out_what_fired_before_it(client, store, clock) -> None:
    _noisy(client, store, clock)
    clock.advance(7200)
    assert client.get("/api/reports/noise?since=1h", headers=AUTH).get_json()["rules"] == []
    assert len(client.get("/api/reports/noise?since=3h", headers=AUTH).get_json()["rules"]) == 1


def test_the_page_needs_a_login_sends_the_csp_and_shows_values_as_text(
    client, store, clock
) -> None:
    _noisy(client, store, clock, service=HOSTILE, alertname=HOSTILE)
    assert client.get("/reports/noise").status_code == 303  # to the login page
    log_in(client)
    console = client.get("/").get_data(as_text=True)
    assert 'id="noise-report" href="/reports/noise"' in console
    page = client.get("/reports/noise?since=30d")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert "<img" not in html
    assert all(h.startswith(("/", "http")) for h in re.findall(r'href="([^"]*)"', html))
    names = re.findall(r'<td class="name">(.*?)</td>', html, re.S)
    assert len(names) == 2 and all(
        n.startswith("&lt;img src=x onerror=alert(1)&gt;") for n in names
    )
    assert html.count('<tr class="noise">') == 2  # never acted on, in both tables
    assert "Noise report: the last 30d" in html


def test_an_empty_window_says_so(client) -> None:
    log_in(client)
    html = client.get("/reports/noise").get_data(as_text=True)
    assert "No alert fired in this window." in html
    assert "No remediation run in this window." in html
