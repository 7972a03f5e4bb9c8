"""The console at `/` and its live fragment `GET /api/console`: incidents as
articles with timelines, remediation runs and message texts, "nobody was paged",
forms only for operators, ETag 304 — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import template_rendered
from support.procs import free_port
from webhook_support import (
    CONTACTS,
    SECRET_KEY,
    csrf_token,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)

from alert_webhook import create_app
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.store import open_store


@pytest.fixture
def app_factory(any_store, clock, make_settings):
    """The page on both stores."""

    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None):
        settings = make_settings(data, env)
        return create_app(settings, store=any_store, metrics=create_metrics(), clock=clock)

    return build


@pytest.fixture
def client(app_factory):
    return app_factory().test_client()


def _article(page: str, alert_id: int = 1) -> str:
    found = re.search(
        rf'<article class="incident" id="incident-{alert_id}"[^>]*>.*?</article>', page, re.S
    )
    assert found is not None, f"incident {alert_id} is on the page"
    return found.group(0)


def _remediating(app_factory, tmp_path: Path, **book: Any):
    """An app whose playbook for DbCorrupt runs a real command printing "restarted";
    Prometheus (to verify with) is a port nothing listens on."""
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", "print('restarted')"]},
    }
    books = [{"name": "restore-db", "match": {"alertname": "DbCorrupt"}, "target": ["service"],
              "actions": [step], "verify": {"delay": "5s", "window": "5s"}, **book}]  # fmt: skip
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": books}))
    settings = with_operator({
        "remediation": {"enabled": True, "playbooks_file": str(path)},
        "links": {"prometheus_url": f"http://127.0.0.1:{free_port()}"},
    })  # fmt: skip
    app = app_factory(settings, SECRET_KEY)
    alert = make_alert(alertname="DbCorrupt", severity="high", service="db")
    app.test_client().post("/alerts", json=make_notification(alert))
    return app


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


def test_a_new_login_of_the_same_operator_is_not_answered_with_the_old_sessions_forms(
    app_factory,
) -> None:
    # Logging in starts a new session, and the forms of the old one carry CSRF
    # tokens it no longer accepts: a 304 would keep those forms on the page.
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    log_in(client)
    first = client.get("/api/console")
    old_token = csrf_token(first.get_data(as_text=True))
    log_in(client)  # the same operator, the same minute, nothing else changed
    again = client.get("/api/console", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    unchanged = client.get("/api/console", headers={"If-None-Match": again.headers["ETag"]})
    assert unchanged.status_code == 304, "within one session an unchanged console is still 304"
    refused = client.post("/api/incidents/1/ack", data={"csrf_token": old_token})
    assert refused.status_code == 400, "the old session's token is no longer accepted"
    new_token = csrf_token(again.get_data(as_text=True))
    assert client.post("/api/incidents/1/ack", data={"csrf_token": new_token}).status_code == 303


def test_a_run_waiting_for_approval_is_answered_inside_its_incident(app_factory, tmp_path) -> None:
    app = _remediating(app_factory, tmp_path, require_approval=True)
    app.extensions["alert_webhook"].workers.step("remediation")
    client = app.test_client()
    article = _article(client.get("/").get_data(as_text=True))
    assert 'data-run="1"' in article and "Log in to approve" in article
    assert "restore-db on service=db waits for an operator&#39;s approval" in article, article
    log_in(client)
    article = _article(client.get("/").get_data(as_text=True))
    for name, action in (("approve", "approve"), ("reject", "reject")):
        form = re.search(rf'<form class="action-{name}" [^>]*>.*?</form>', article, re.S)
        assert form is not None and f'action="/api/remediations/1/{action}"' in form.group(0)
        assert 'name="csrf_token"' in form.group(0)


@pytest.mark.integration
def test_a_run_is_one_line_with_its_steps_output_and_checks_behind_a_click(
    app_factory, tmp_path, clock
) -> None:
    app = _remediating(app_factory, tmp_path)
    workers = app.extensions["alert_webhook"].workers
    workers.step("remediation")
    article = _article(app.test_client().get("/").get_data(as_text=True))
    assert re.search(
        r'<li data-kind="remediation">.*restore-db on service=db — acted; checking', article
    )
    run = re.search(r'<li class="run" data-run="1">.*?</li>\s*</ul>', article, re.S)
    assert run is not None
    behind = re.search(
        r'<details class="run-detail" id="run-1"><summary>steps and checks</summary>(.*?)'
        r"</details>\s*</li>",
        run.group(0),
        re.S,
    )
    assert behind is not None, "the steps are behind a click that needs no script"
    assert re.search(
        r'<details class="output" id="output-1-0"><summary>output</summary><pre>restarted\s*</pre>',
        behind.group(1),
    )
    assert "run_command" not in run.group(0).replace(behind.group(0), "")
    clock.advance(15)
    workers.step("remediation")  # its check finds Prometheus unreachable: asked again
    clock.advance(600)  # until the default deadline (it could not tell the lag either)
    workers.step("remediation")  # not fixed
    article = _article(app.test_client().get("/").get_data(as_text=True))
    (line,) = re.findall(r'<li data-kind="escalated">(.*?)</li>', article, re.S)
    assert "restore-db on service=db — not fixed: " in line and "people were told" in line
    assert "<pre" not in line and "<details" not in line
    assert not re.search(r'<li data-kind="remediation">', article), "one line per run"
    assert len(re.findall(r"<li data-kind=", article)) <= 8


def _incident_header(article: str) -> str:
    found = re.search(r"<header>(.*?)</header>", article, re.S)
    assert found is not None, "the incident has a header"
    return found.group(1)


def test_the_header_says_the_state_and_the_unacknowledged_count_with_the_actions(
    app_factory,
) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    _fired(app, make_alert("a", severity="high", alertname="ErrorRateHigh", service="api"),
           make_alert("b", severity="medium", alertname="SlowRequests", service="api"))  # fmt: skip
    client = app.test_client()
    log_in(client)
    article = _article(client.get("/").get_data(as_text=True))
    header = _incident_header(article)
    assert '<span class="state firing">firing</span>' in header
    assert '<span class="unacked">2 unacknowledged</span>' in header
    assert "ErrorRateHigh" in header and 'data-state="firing"' in article
    for name in ("ack", "silence", "resolve"):
        assert f'<form class="action-{name}"' in header, f"{name} is at the top"
    assert article.index('class="action-ack"') < article.index('<ol class="timeline">')
    resolve = re.search(r'<form class="action-resolve" [^>]*action="([^"]+)">(.*?)</form>', header,
                        re.S)  # fmt: skip
    assert resolve is not None and resolve.group(1) == "/api/incidents/1/resolve"
    assert '<input type="hidden" name="alert" value="2">' in resolve.group(2), "every open alert"


def test_the_console_s_acknowledgement_covers_the_alerts_it_showed_not_later_ones(
    app_factory, clock
) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    _fired(app, make_alert("a", severity="high", alertname="ErrorRateHigh", service="api"),
           make_alert("b", severity="medium", alertname="SlowRequests", service="api"))  # fmt: skip
    client = app.test_client()
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    form = re.search(r'<form class="action-ack" [^>]*action="([^"]+)">(.*?)</form>', page, re.S)
    assert form is not None
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]+)"', form.group(2)))
    assert form.group(1) == "/api/incidents/1/ack" and fields["alert"] == "2"
    done = client.post(form.group(1), data=fields)
    assert done.status_code == 303
    assert all(
        i["acked_by"] == "alice" for i in client.get("/api/incidents").get_json()["incidents"]
    )
    header = _incident_header(_article(client.get("/").get_data(as_text=True)))
    assert '<span class="state acknowledged">acknowledged</span>' in header
    assert "unacked" not in header and 'class="action-ack"' not in header
    clock.advance(60)
    _fired(app, make_alert("c", severity="medium", alertname="QueueDepth", service="api"))
    article = _article(client.get("/").get_data(as_text=True))
    header = _incident_header(article)
    assert '<span class="state firing">firing</span>' in header
    assert '<span class="unacked">1 unacknowledged</span>' in header
    ack = re.search(r'<form class="action-ack" [^>]*action="([^"]+)">(.*?)</form>', header, re.S)
    assert ack is not None and ack.group(1) == "/api/incidents/3/ack"
    assert 'name="alert"' not in ack.group(2), "only the one nobody acknowledged"


def test_a_new_failure_after_everything_resolved_is_a_new_incident_with_its_own_age(
    app_factory, clock
) -> None:
    clock.now = 1_800_000_000.0
    app = app_factory(CONTACTS)
    _fired(app, make_alert("a", severity="critical", alertname="ServiceUnavailable", service="api"))
    clock.advance(600)
    _fired(app, make_alert("a", "resolved", "critical", "ServiceUnavailable", service="api"))
    clock.advance(780)
    again = make_alert("b", severity="high", alertname="ErrorRateHigh", service="api",
                       starts_at="2026-11-28T10:00:00Z")  # fmt: skip
    _fired(app, again)
    page = app.test_client().get("/").get_data(as_text=True)
    new_id = app.extensions["alert_webhook"].store.incidents.list()[0]["alert_id"]
    new, old = _article(page, new_id), _article(page, 1)
    assert 'data-state="firing"' in new and "Started <time" in new
    assert re.search(r'<p class="times">Started <time[^>]*>just now</time>', new)
    assert "ServiceUnavailable" not in _incident_header(new)
    assert 'data-state="resolved"' in old and "overdue" not in old
    assert page.index(new) < page.index('<details id="resolved">') < page.index(old)


def test_older_timeline_lines_and_resolved_alerts_are_collapsed(app_factory, clock) -> None:
    app = app_factory(CONTACTS)
    alerts = [make_alert(f"f{n}", severity="medium", alertname=f"Symptom{n}", service="api")
              for n in range(8)]  # fmt: skip
    _fired(app, *alerts)
    clock.advance(60)
    _fired(app, make_alert("f0", "resolved", "medium", "Symptom0", service="api"))
    article = _article(app.test_client().get("/").get_data(as_text=True))
    earlier = re.search(
        r'<details class="earlier" id="earlier-1"><summary>(\d+) earlier events</summary>'
        r'<ol class="timeline">(.*?)</ol></details>',
        article,
        re.S,
    )
    assert earlier is not None and int(earlier.group(1)) >= 3
    shown = re.findall(r'<li data-kind="', article.split("</details>\n    <ol", 1)[1])
    assert len(shown) <= 6
    gone = re.search(
        r'<details class="resolved-alerts" id="resolved-alerts-1">'
        r"<summary>1 alert no longer firing</summary>(.*?)</details>",
        article,
        re.S,
    )
    assert gone is not None and "Symptom0 (resolved)" in gone.group(1)


def test_a_channel_nobody_configured_is_said_plainly_and_only_a_failing_one_in_red(
    app_factory,
) -> None:
    # Seen: the healthy console's only red was "not configured" for channels
    # nobody configured.
    sms = {
        **CONTACTS["channels"]["sms"],
        "providers": [
            {"name": "twilio1", "from_number": "+15555550000", "account_sid_env": "NO_SUCH_SID"}
        ],
    }
    app = app_factory({"channels": {**CONTACTS["channels"], "sms": sms}})
    page = app.test_client().get("/").get_data(as_text=True)
    health = re.search(r'<section id="health">.*</section>', page, re.S)
    assert health is not None
    channels = dict(re.findall(r'<li data-channel="(\w+)">(.*?)</li>', health.group(0), re.S))
    assert '<span class="unused">not configured</span>' in channels["email"]
    assert 'class="flag"' not in channels["email"] and 'class="flag"' not in channels["webhook"]
    assert re.search(
        r'<span class="flag">not configured: missing [^<]*NO_SUCH_SID', channels["sms"]
    )


def test_each_message_s_text_is_shown_collapsed_with_its_delivery(app_factory) -> None:
    app = app_factory(CONTACTS)
    _fired(app, make_alert("a", severity="critical", service="api"))
    article = _article(app.test_client().get("/").get_data(as_text=True))
    texts = re.findall(
        r'<details class="message" id="message-\d+"><summary>message</summary><pre>(.*?)</pre>',
        article,
        re.S,
    )
    assert any(t.startswith("CRITICAL DemoServiceDown db1:9100") for t in texts), texts
    assert any(t.startswith("[CRITICAL] DemoServiceDown on db1:9100") for t in texts), texts


def test_the_runbook_and_the_alert_s_own_prometheus_graph_are_links(client) -> None:
    client.post("/alerts", json=make_notification(make_alert("a", service="api")))
    article = _article(client.get("/").get_data(as_text=True))
    assert '<a class="runbook" href="https://example.org/runbooks/DemoServiceDown">' in article
    assert '<a class="prometheus" href="http://127.0.0.1:9090/graph?g0.expr=up">' in article


def test_a_generator_url_that_is_not_http_is_no_link(client) -> None:
    alert = make_alert("a", service="api")
    alert["generatorURL"] = "javascript:alert(1)"
    client.post("/alerts", json=make_notification(alert))
    article = _article(client.get("/").get_data(as_text=True))
    assert 'href="javascript:' not in article
    assert '<a class="prometheus" href="http://127.0.0.1:9090/alerts">' in article


def test_the_health_panel_shows_pending_breakers_failures_and_recovery(
    app_factory, any_store
) -> None:
    relay = {"name": "relay", "host": "127.0.0.1", "port": free_port(), "sender": "a@b.c"}
    email = {"recipients": ["oncall@example.org"], "providers": [relay]}
    data = {**CONTACTS, "channels": {**CONTACTS["channels"], "email": email}}
    app = app_factory(data)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a", severity="high", service="api")))
    app.extensions["alert_webhook"].workers.run_once()  # the relay refuses: retried later
    page = client.get("/").get_data(as_text=True)
    health = re.search(r'<section id="health">.*</section>', page, re.S)
    assert health is not None
    panel = health.group(0)
    assert '<p id="pending">1 delivery pending' in panel
    assert (
        '<span class="breaker" data-provider="email:relay">relay <span class="closed">closed</span>'
        in panel
    )
    assert re.search(
        r"<summary>1 failed of the last 1000 deliveries</summary>.*relay:", panel, re.S
    )
    assert "<dt>Success rate</dt><dd>no runs yet</dd>" in panel


@pytest.mark.integration
def test_every_collapsed_part_has_its_own_id_so_the_live_update_keeps_it_open(
    app_factory, tmp_path, clock
) -> None:
    app = _remediating(app_factory, tmp_path)
    app.extensions["alert_webhook"].workers.run_once()
    app.extensions["alert_webhook"].workers.step("remediation")
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("gone", "resolved", service="web")))
    fragment = client.get("/api/console").get_data(as_text=True)
    details = re.findall(r"<details[^>]*>", fragment)
    ids = [re.search(r'id="([^"]+)"', d) for d in details]
    assert len(details) >= 3 and all(ids), details
    assert len({i.group(1) for i in ids if i}) == len(details), "each id once"
    with client.get("/dashboard/static/console.js") as resp:
        assert b'querySelectorAll("details[open][id]")' in resp.data


def test_with_the_store_down_the_console_says_so_and_polls_stay_cheap(
    tmp_path, make_settings, clock
) -> None:
    (tmp_path / "dir").mkdir()
    down = open_store(f"sqlite:///{tmp_path}/dir")  # a folder is no database: every query fails
    app = create_app(make_settings(CONTACTS), store=down, metrics=create_metrics(), clock=clock)
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and "The store is unreachable" in page.get_data(as_text=True)
    first = client.get("/api/console")
    assert first.status_code == 200 and "The store is unreachable" in first.get_data(as_text=True)
    again = client.get("/api/console", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    down.dispose()
