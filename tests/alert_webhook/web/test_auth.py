"""web/auth.py: every action needs a logged-in operator (with the session's CSRF
token) or the bearer token; viewing is open on loopback, else needs either."""

from __future__ import annotations

import pytest
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

TOKEN = {"ALERT_WEBHOOK_TOKEN": "t", **SECRET_KEY}
AUTH = {"Authorization": "Bearer t"}
READS = ("/api/alerts", "/api/incidents", "/api/deliveries", "/api/console")


def _incident(store) -> dict:
    (incident,) = store.incidents.list()
    return incident


@pytest.fixture
def loopback(app_factory):
    """The local stack's shape: loopback, a token, one operator, one open incident."""
    app = app_factory(with_operator(CONTACTS), TOKEN)
    app.test_client().post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    return app


@pytest.fixture
def exposed(store, clock, make_settings):
    """Listening beyond loopback, as a server would."""
    settings = make_settings(with_operator(CONTACTS), TOKEN)
    app = create_app(
        settings, store=store, metrics=create_metrics(), clock=clock, listen_host="192.0.2.10"
    )
    app.test_client().post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    return app


def test_the_open_dashboard_no_longer_lets_anyone_acknowledge(loopback, store) -> None:
    # Before: the page handed every visitor a valid form token for the ack form.
    visitor = loopback.test_client()
    page = visitor.get("/").get_data(as_text=True)
    assert "Log in to acknowledge" in page and 'name="csrf_token"' not in page
    for form in ({"by": "dashboard"}, {"by": "dashboard", "form_token": "x"}):
        resp = visitor.post("/api/incidents/1/ack", data=form)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/login")
    assert visitor.post("/api/incidents/1/ack", json={"by": "x"}).status_code == 401
    assert _incident(store)["acked_at"] is None


def test_without_a_token_configured_an_action_still_needs_a_login(app_factory, store) -> None:
    app = app_factory(with_operator(CONTACTS), SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        resp = client.post("/api/incidents/1/ack", json={"by": "x"}, headers=headers)
        assert resp.status_code == 401, headers
        assert "log in" in resp.get_json()["error"]
    assert _incident(store)["acked_at"] is None


def test_a_logged_in_operator_acknowledges_and_the_record_names_them(loopback, store) -> None:
    client = loopback.test_client()
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    resp = client.post("/api/incidents/1/ack", data={"by": "mallory", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert _incident(store)["acked_by"] == "alice"  # the login, not a form field
    assert "by alice" in client.get("/").get_data(as_text=True)


def test_a_session_without_its_csrf_token_cannot_act(loopback, store) -> None:
    client = loopback.test_client()
    log_in(client)
    missing = client.post("/api/incidents/1/ack", data={"by": "x"})
    assert missing.status_code == 400 and "CSRF" in missing.get_json()["error"]
    other = loopback.test_client()
    log_in(other)
    foreign = csrf_token(other.get("/").get_data(as_text=True))
    stolen = client.post("/api/incidents/1/ack", data={"csrf_token": foreign})
    assert stolen.status_code == 400, "a CSRF token is bound to its own session"
    assert _incident(store)["acked_at"] is None


def test_with_the_bearer_token_a_script_acknowledges_and_may_say_by(loopback, store) -> None:
    client = loopback.test_client()
    resp = client.post("/api/incidents/1/ack", json={"by": "runbook-bot"}, headers=AUTH)
    assert resp.status_code == 200
    assert resp.get_json()["incident"]["acked_by"] == "runbook-bot"


def test_on_loopback_viewing_is_open(loopback) -> None:
    client = loopback.test_client()
    assert client.get("/").status_code == 200
    for path in READS:
        assert client.get(path).status_code == 200, path


def test_beyond_loopback_viewing_needs_a_login_or_the_token(exposed) -> None:
    client = exposed.test_client()
    page = client.get("/", base_url="http://192.0.2.10:9095")
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=/"
    for path in READS:
        resp = client.get(path, base_url="http://192.0.2.10:9095")
        assert resp.status_code == 401, path
        assert "log in or send the bearer token" in resp.get_json()["error"]
        assert client.get(path, headers=AUTH).status_code == 200, path
    # Health and metrics stay open: they carry no recipients.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
    log_in(client)
    assert client.get("/").status_code == 200
    incidents = client.get("/api/incidents").get_json()["incidents"]
    assert [i["alert_id"] for i in incidents] == [1]


def test_require_login_closes_viewing_on_loopback_too(app_factory) -> None:
    client = app_factory(with_operator(require_login=True), SECRET_KEY).test_client()
    assert client.get("/").status_code == 303
    assert client.get("/api/deliveries").status_code == 401
    log_in(client)
    assert client.get("/api/deliveries").status_code == 200


def test_the_login_page_is_reachable_when_viewing_is_closed(exposed) -> None:
    assert exposed.test_client().get("/login").status_code == 200


def test_a_request_without_a_session_cookie_costs_no_cookie_signer(loopback, monkeypatch) -> None:
    # Alertmanager never has a session: building the signer for each of its
    # posts only to find nothing to verify was work on the hot ingest path.
    from alert_webhook.web.auth import CookieSessions

    def no_signer(self, app):
        raise AssertionError("the cookie signer was built for a request without a session")

    assert isinstance(loopback.session_interface, CookieSessions)
    monkeypatch.setattr(CookieSessions, "get_signing_serializer", no_signer)
    resp = loopback.test_client().post(
        "/alerts", json=make_notification(make_alert("b")), headers=AUTH
    )
    assert resp.status_code == 200 and resp.json["status"] == "stored"
    assert "Set-Cookie" not in resp.headers and "Cookie" not in resp.headers.get("Vary", "")


def test_sessions_still_sign_verify_and_end_as_before(loopback) -> None:
    # The shortcut only skips sessions nobody has: a login still sets a signed
    # cookie that later requests are recognised by, a forged one is ignored, and
    # logging out clears it.
    operator = loopback.test_client()
    log_in(operator)
    assert operator.get_cookie("alert_webhook_session") is not None
    assert operator.get("/api/alerts").status_code == 200
    forged = loopback.test_client()
    forged.set_cookie("alert_webhook_session", "forged.value.sig")
    resp = forged.post("/api/incidents/1/ack", json={"by": "x"})
    assert resp.status_code == 401
