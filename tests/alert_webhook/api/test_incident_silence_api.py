"""POST /api/incidents/<alert_id>/silence against a real Alertmanager: a silence
of exactly the incident's alert, for the minutes asked, in the actor's name;
bad input and an Alertmanager that fails are refused with nothing stored."""

from __future__ import annotations

import time

import am_support
import pytest
from am_support import unreachable
from webhook_support import (
    CONTACTS,
    SECRET_KEY,
    FakeClock,
    csrf_token,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)

from alert_webhook.clients.alertmanager import AlertmanagerAPI, Matcher, matchers_for

pytestmark = pytest.mark.integration
alertmanager = am_support.alertmanager  # the fixture: a real Alertmanager
AUTH = {"Authorization": "Bearer t"}
ENV = {"ALERT_WEBHOOK_TOKEN": "t", **SECRET_KEY}


@pytest.fixture
def clock() -> FakeClock:
    """Alertmanager judges a silence's times by its own clock: start at real time."""
    return FakeClock(time.time())


def _app(app_factory, am_url: str, alertname: str):
    """The webhook talking to `am_url`, with one firing incident (alert 1) named `alertname`."""
    data = with_operator({**CONTACTS, "links": {"alertmanager_url": am_url}})
    app = app_factory(data, ENV)
    alert = make_alert("a", alertname=alertname, service="demo", instance="a.*")
    app.test_client().post("/alerts", json=make_notification(alert), headers=AUTH)
    return app


def _silences(am_url: str, alertname: str):
    return AlertmanagerAPI(am_url).list_silences([Matcher("alertname", alertname)])


def test_the_token_silences_exactly_the_alert_for_the_minutes_asked(
    app_factory, alertmanager, clock, store
) -> None:
    client = _app(app_factory, alertmanager, "SilencedByToken").test_client()
    resp = client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "silenced"
    incident = body["incident"]
    assert incident["silenced_until"] == clock.now + 30 * 60
    assert incident["silenced_by"] == "api token"
    [silence] = _silences(alertmanager, "SilencedByToken")
    assert (silence.id, silence.state, silence.created_by) == (
        incident["silence_id"], "active", "api token",
    )  # fmt: skip
    assert set(silence.matchers) == set(matchers_for(store.incidents.find(1)["labels"]))
    assert "incident 1 (SilencedByToken)" in silence.comment
    (listed,) = client.get("/api/incidents").get_json()["incidents"]
    assert listed["silence_id"] == silence.id


def test_an_operators_form_silences_in_their_name(app_factory, alertmanager, store) -> None:
    client = _app(app_factory, alertmanager, "SilencedByForm").test_client()
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    resp = client.post("/api/incidents/1/silence", data={"minutes": "60", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    [silence] = _silences(alertmanager, "SilencedByForm")
    assert silence.created_by == "alice" and store.incidents.find(1)["silenced_by"] == "alice"


@pytest.mark.parametrize("minutes", [0, 10081, "abc", None, 1.5, True, "", "-5", "²"])
def test_minutes_must_be_a_whole_number_from_1_to_10080(
    app_factory, alertmanager, store, minutes
) -> None:
    client = _app(app_factory, alertmanager, "BadMinutes").test_client()
    body = {} if minutes is None else {"minutes": minutes}
    resp = client.post("/api/incidents/1/silence", json=body, headers=AUTH)
    assert resp.status_code == 400
    assert "minutes: must be a whole number from 1 to 10080" in resp.get_json()["error"]
    assert store.incidents.find(1)["silence_id"] is None
    assert _silences(alertmanager, "BadMinutes") == []


def test_the_bounds_are_accepted(app_factory, alertmanager, clock) -> None:
    client = _app(app_factory, alertmanager, "Bounds").test_client()
    for minutes, given in ((1, "1"), (10080, 10080)):
        resp = client.post("/api/incidents/1/silence", json={"minutes": given}, headers=AUTH)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["incident"]["silenced_until"] == clock.now + minutes * 60


def test_silencing_again_replaces_the_silence(app_factory, alertmanager) -> None:
    client = _app(app_factory, alertmanager, "SilencedTwice").test_client()
    first = client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    second = client.post("/api/incidents/1/silence", json={"minutes": 120}, headers=AUTH)
    states = {s.id: s.state for s in _silences(alertmanager, "SilencedTwice")}
    assert states == {
        first.get_json()["incident"]["silence_id"]: "expired",
        second.get_json()["incident"]["silence_id"]: "active",
    }


@pytest.mark.parametrize("path", ["/api/incidents/99/silence", f"/api/incidents/{2**63}/silence"])
def test_silencing_an_unknown_or_impossible_id_is_404(app_factory, alertmanager, path) -> None:
    client = _app(app_factory, alertmanager, "Unknown").test_client()
    resp = client.post(path, json={"minutes": 30}, headers=AUTH)
    assert resp.status_code == 404 and "error" in resp.get_json()


def test_a_closed_incident_is_not_silenced(app_factory, alertmanager, store) -> None:
    client = _app(app_factory, alertmanager, "ClosedFirst").test_client()
    client.post("/api/incidents/1/resolve", json={"note": "done"}, headers=AUTH)
    resp = client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    assert resp.status_code == 409 and "closed" in resp.get_json()["error"]
    assert _silences(alertmanager, "ClosedFirst") == []


def test_without_the_token_or_a_login_nothing_is_silenced(app_factory, alertmanager) -> None:
    client = _app(app_factory, alertmanager, "Anonymous").test_client()
    assert client.post("/api/incidents/1/silence", json={"minutes": 30}).status_code == 401
    assert _silences(alertmanager, "Anonymous") == []


@pytest.mark.parametrize("where", ["unreachable", "refusing"])
def test_an_alertmanager_that_fails_is_named_and_nothing_is_stored(
    app_factory, alertmanager, store, where
) -> None:
    am_url = unreachable() if where == "unreachable" else f"{alertmanager}/no-such-prefix"
    client = _app(app_factory, am_url, "Failing").test_client()
    resp = client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    assert resp.status_code == 503
    error = resp.get_json()["error"]
    assert error.startswith("not silenced: Alertmanager") and am_url in error
    assert store.incidents.find(1)["silence_id"] is None
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    page = client.post("/api/incidents/1/silence", data={"minutes": "30", "csrf_token": token})
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "not silenced: Alertmanager" in page.get_data(as_text=True)
    assert store.incidents.find(1)["silence_id"] is None


def test_a_silenced_incident_is_not_escalated_at_its_deadline(
    app_factory, alertmanager, clock, store
) -> None:
    app = _app(app_factory, alertmanager, "NotEscalated")
    client = app.test_client()
    client.post("/api/incidents/1/silence", json={"minutes": 30}, headers=AUTH)
    clock.advance(301)  # past the critical deadline
    app.extensions["alert_webhook"].workers.step("duties")
    assert [d for d in store.outbox.list() if d["purpose"].startswith("tier-")] == []
    assert store.incidents.find(1)["tier"] == 1
