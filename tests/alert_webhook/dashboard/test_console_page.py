"""The console at `/` and its live fragment `GET /api/console`: incidents as
articles with timelines, "nobody was paged", forms only for operators, ETag 304."""

from __future__ import annotations

import re

from flask import template_rendered
from webhook_support import (
    CONTACTS,
    SECRET_KEY,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)


def _fired(app, *alerts) -> None:
    client = app.test_client()
    client.post("/alerts", json=make_notification(*alerts))
    app.extensions["alert_webhook"].workers.run_once()


def test_an_incident_is_an_article_with_its_timeline_in_order(app_factory) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    _fired(app, make_alert("a", severity="critical", service="api"))
    page = app.test_client().get("/").get_data(as_text=True)
    article = re.search(
        r'<article class="incident" id="incident-1"[^>]*>(.*?)</article>', page, re.S
    )
    assert article is not None
    assert 'data-severity="critical"' in article.group(
        0
    ) and 'data-state="firing"' in article.group(0)
    kinds = re.findall(r'<li data-kind="(\w+)"', article.group(1))
    assert kinds[0] == "fired" and set(kinds[1:]) == {"delivery"}
    assert "nobody was paged: SMS is not configured" in article.group(1)
    assert re.search(
        r'<time datetime="\d{4}-\d\d-\d\dT[\d:]+Z" title="[^"]+UTC">', article.group(1)
    )


def test_action_forms_only_for_a_logged_in_operator(app_factory) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    _fired(app, make_alert("a", severity="high", service="api"))
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'class="action-' not in page and "Log in to acknowledge" in page
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    for name in ("ack", "silence", "resolve"):
        form = re.search(rf'<form class="action-{name}".*?</form>', page, re.S)
        assert form is not None and 'name="csrf_token"' in form.group(0)
    assert 'name="minutes"' in page and 'name="note" required maxlength="500"' in page


def test_the_page_has_no_meta_refresh_and_the_live_region(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    assert '<main id="console" data-poll="/api/console">' in page
    with client.get("/dashboard/static/console.js") as resp:
        assert resp.status_code == 200 and b"If-None-Match" in resp.data


def test_the_console_fragment_answers_304_when_unchanged(client) -> None:
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    first = client.get("/api/console")
    assert first.status_code == 200 and 'id="incident-1"' in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    again = client.get("/api/console", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    client.post("/alerts", json=make_notification(make_alert("b", service="db")))
    changed = client.get("/api/console", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and 'id="incident-2"' in changed.get_data(as_text=True)


def test_an_unchanged_poll_renders_nothing(app_factory) -> None:
    app = app_factory()
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    etag = client.get("/api/console").headers["ETag"]
    rendered: list[str] = []

    def record(sender, template, context, **extra) -> None:
        rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        assert client.get("/api/console", headers={"If-None-Match": etag}).status_code == 304
    assert rendered == [], "a 304 is answered from the change token, not by rendering"


def test_the_fragment_renders_again_each_minute_for_its_relative_times(app_factory, clock) -> None:
    clock.now = 1_800_000_000.0  # a whole minute
    client = app_factory().test_client()
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    first = client.get("/api/console")
    assert "just now" in first.get_data(as_text=True)
    unchanged = {"If-None-Match": first.headers["ETag"]}
    clock.advance(59)
    assert client.get("/api/console", headers=unchanged).status_code == 304
    clock.advance(1)
    later = client.get("/api/console", headers=unchanged)
    assert later.status_code == 200 and "1 min ago" in later.get_data(as_text=True)


def test_a_delivery_changing_state_changes_the_fragment(app_factory) -> None:
    app = app_factory(CONTACTS)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a", severity="high", service="api")))
    first = client.get("/api/console")
    assert "email to oncall@example.org: pending" in first.get_data(as_text=True)
    app.extensions["alert_webhook"].workers.run_once()
    changed = client.get("/api/console", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert "nobody was paged: email is not configured" in changed.get_data(as_text=True)


def test_the_fragment_of_a_logged_in_operator_is_another(app_factory) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    etag = client.get("/api/console").headers["ETag"]
    log_in(client)
    mine = client.get("/api/console", headers={"If-None-Match": etag})
    assert mine.status_code == 200 and 'class="action-ack"' in mine.get_data(as_text=True)
