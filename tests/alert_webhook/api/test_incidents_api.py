"""api/incidents.py: list incidents and deliveries, acknowledge, resolve as handled."""

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
from alert_webhook.store import open_store

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def store(any_store):
    """Every test here on SQLite and on PostgreSQL: the same answers on both."""
    return any_store


def test_ack_of_unknown_incident_is_404_and_needs_the_token(app_factory) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    assert client.post("/api/incidents/99/ack", headers=AUTH).status_code == 404
    assert client.post("/api/incidents/1/ack").status_code == 401


def test_ack_with_the_token_names_who_and_is_idempotent(app_factory, clock) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    first = client.post("/api/incidents/1/ack", json={"by": "alice"}, headers=AUTH)
    assert first.status_code == 200
    assert first.get_json()["incident"]["acked_by"] == "alice"
    assert first.get_json()["incident"]["acked_at"] == clock.now
    clock.advance(60)
    again = client.post("/api/incidents/1/ack", json={"by": "bob"}, headers=AUTH)
    assert again.get_json()["incident"]["acked_by"] == "alice"  # the first one stands
    (incident,) = client.get("/api/incidents").get_json()["incidents"]
    assert incident["acked_by"] == "alice" and incident["alertname"] == "DemoServiceDown"


def test_ack_with_the_token_and_no_name_is_recorded_as_the_api_token(app_factory) -> None:
    # As resolve, silence and approve record a token-holding caller.
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    resp = client.post("/api/incidents/1/ack", json={}, headers=AUTH)
    assert resp.get_json()["incident"]["acked_by"] == "api token"


def test_deliveries_filter_by_alert_and_refuse_a_bad_id(app_factory) -> None:
    client = app_factory(CONTACTS).test_client()
    client.post("/alerts", json=make_notification(make_alert("a"), make_alert("b")))
    both = client.get("/api/deliveries").get_json()["deliveries"]
    one = client.get("/api/deliveries?alert_id=2").get_json()["deliveries"]
    assert {d["alert_id"] for d in both} == {1, 2}
    assert one and {d["alert_id"] for d in one} == {2}
    bad = client.get("/api/deliveries?alert_id=two")
    assert bad.status_code == 400 and "alert_id" in bad.get_json()["error"]


def test_store_unavailable_is_503_for_every_read(tmp_path, make_settings, clock) -> None:
    (tmp_path / "dir").mkdir()
    down = open_store(f"sqlite:///{tmp_path}/dir")  # a folder is no database: every query fails
    app = create_app(make_settings(CONTACTS), store=down, metrics=create_metrics(), clock=clock)
    client = app.test_client()
    for path in ("/api/incidents", "/api/deliveries", "/api/alerts"):
        resp = client.get(path)
        assert resp.status_code == 503, path
        assert resp.get_json() == {"error": "store unavailable; retry later"}
    down.dispose()


@pytest.mark.parametrize("by", ["ops\x00team", "x" * 500, "", None, 42])
def test_whatever_a_script_says_in_by_is_recorded_never_a_500(app_factory, by) -> None:
    """The same answer on SQLite and PostgreSQL (whose text cannot hold NUL)."""
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    resp = client.post("/api/incidents/1/ack", json={"by": by}, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    acked_by = resp.get_json()["incident"]["acked_by"]
    assert "\x00" not in acked_by and 0 < len(acked_by) <= 200


# Resolve-as-handled: POST /api/incidents/<alert_id>/resolve with a note.


def _firing(app_factory, **data):
    """An app with the token and the operator alice, and one firing incident (alert 1)."""
    env = {"ALERT_WEBHOOK_TOKEN": "t", **SECRET_KEY}
    app = app_factory(with_operator({**CONTACTS, **data}), env)
    app.test_client().post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    return app


def test_resolve_with_the_token_closes_as_handled_by_the_api_token(app_factory, clock) -> None:
    client = _firing(app_factory).test_client()
    resp = client.post("/api/incidents/1/resolve", json={"note": "pool restarted"}, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "handled"
    incident = body["incident"]
    assert (incident["handled_by"], incident["handled_note"]) == ("api token", "pool restarted")
    assert incident["handled_at"] == incident["closed_at"] == clock.now
    (listed,) = client.get("/api/incidents").get_json()["incidents"]
    assert listed["handled_note"] == "pool restarted" and listed["silence_id"] is None


def test_a_logged_in_operators_form_resolves_in_their_name(app_factory, store) -> None:
    client = _firing(app_factory).test_client()
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    form = {"note": "failed over by hand", "by": "mallory", "csrf_token": token}
    resp = client.post("/api/incidents/1/resolve", data=form)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert store.incidents.find(1)["handled_by"] == "alice"  # the login, not a form field


@pytest.mark.parametrize(
    ("note", "problem"),
    [(None, "note: required"), ("   ", "note: required"), (42, "note: required"),
     ("x" * 501, "note: at most 500 characters")],
)  # fmt: skip
def test_resolve_needs_a_note_of_at_most_500_characters(app_factory, store, note, problem) -> None:
    client = _firing(app_factory).test_client()
    body = {} if note is None else {"note": note}
    resp = client.post("/api/incidents/1/resolve", json=body, headers=AUTH)
    assert resp.status_code == 400 and problem in resp.get_json()["error"]
    assert store.incidents.find(1)["closed_at"] is None  # nothing stored


def test_a_500_character_note_is_kept_whole(app_factory, store) -> None:
    client = _firing(app_factory).test_client()
    note = "y" * 500
    resp = client.post("/api/incidents/1/resolve", json={"note": note}, headers=AUTH)
    assert resp.status_code == 200 and store.incidents.find(1)["handled_note"] == note


def test_a_bad_note_in_a_form_is_a_message_on_a_page(app_factory, store) -> None:
    client = _firing(app_factory).test_client()
    log_in(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    resp = client.post("/api/incidents/1/resolve", data={"note": "", "csrf_token": token})
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "note: required" in page and 'href="/"' in page
    assert store.incidents.find(1)["closed_at"] is None


@pytest.mark.parametrize("path", ["/api/incidents/99/resolve", f"/api/incidents/{2**63}/resolve"])
def test_resolve_of_an_unknown_or_impossible_id_is_404(app_factory, path) -> None:
    client = _firing(app_factory).test_client()
    resp = client.post(path, json={"note": "x"}, headers=AUTH)
    assert resp.status_code == 404 and "error" in resp.get_json()


def test_resolve_needs_the_token_or_a_login(app_factory, store) -> None:
    client = _firing(app_factory).test_client()
    assert client.post("/api/incidents/1/resolve", json={"note": "x"}).status_code == 401
    assert store.incidents.find(1)["closed_at"] is None


def test_resolving_a_closed_incident_is_409_naming_how_it_closed(app_factory, clock) -> None:
    client = _firing(app_factory).test_client()
    client.post("/api/incidents/1/resolve", json={"note": "first"}, headers=AUTH)
    again = client.post("/api/incidents/1/resolve", json={"note": "second"}, headers=AUTH)
    assert again.status_code == 409
    assert "already closed: handled by api token" in again.get_json()["error"]
    assert again.get_json()["incident"]["handled_note"] == "first"
    alert = make_alert("b", status="resolved")
    client.post("/alerts", json=make_notification(make_alert("b")), headers=AUTH)
    client.post("/alerts", json=make_notification(alert), headers=AUTH)
    resolved = client.post("/api/incidents/2/resolve", json={"note": "late"}, headers=AUTH)
    assert resolved.status_code == 409
    assert "already closed: resolved" in resolved.get_json()["error"]


def test_the_list_of_open_incidents_leaves_out_closed_ones(app_factory) -> None:
    client = _firing(app_factory).test_client()
    client.post("/alerts", json=make_notification(make_alert("b")), headers=AUTH)
    client.post("/api/incidents/1/resolve", json={"note": "done"}, headers=AUTH)
    rows = client.get("/api/incidents?state=open").get_json()["incidents"]
    assert [r["alert_id"] for r in rows] == [2] and rows[0]["labels"]["instance"] == "db1:9100"
    assert len(client.get("/api/incidents").get_json()["incidents"]) == 2
    bad = client.get("/api/incidents?state=shut")
    assert bad.status_code == 400 and "state" in bad.get_json()["error"]


def test_ack_covers_the_other_alerts_it_names_and_no_later_one(app_factory) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a"), make_alert("b")), headers=AUTH)
    done = client.post("/api/incidents/1/ack", json={"by": "alice", "alerts": [2]}, headers=AUTH)
    assert done.status_code == 200 and done.get_json()["incident"]["alert_id"] == 1
    client.post("/alerts", json=make_notification(make_alert("c")), headers=AUTH)
    acked = {
        i["alert_id"]: i["acked_by"] for i in client.get("/api/incidents").get_json()["incidents"]
    }
    assert acked == {1: "alice", 2: "alice", 3: None}


@pytest.mark.parametrize("alerts", [["x"], [0], [2**31], [True], "2", [1.5]])
def test_ack_refuses_other_alerts_that_are_not_ids(app_factory, alerts) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    resp = client.post("/api/incidents/1/ack", json={"alerts": alerts}, headers=AUTH)
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("alert: ")
    assert client.get("/api/incidents").get_json()["incidents"][0]["acked_at"] is None


def test_ack_naming_an_alert_without_an_incident_is_404_and_acknowledges_nothing(
    app_factory,
) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")), headers=AUTH)
    resp = client.post("/api/incidents/1/ack", json={"alerts": [7]}, headers=AUTH)
    assert resp.status_code == 404 and "1, 7" in resp.get_json()["error"]
    assert client.get("/api/incidents").get_json()["incidents"][0]["acked_at"] is None


def test_resolve_closes_the_open_incidents_of_the_alerts_it_names(app_factory) -> None:
    client = app_factory(CONTACTS, env={"ALERT_WEBHOOK_TOKEN": "t"}).test_client()
    client.post("/alerts", json=make_notification(make_alert("a"), make_alert("b")), headers=AUTH)
    body = {"note": "restarted the pool", "alerts": [2]}
    assert client.post("/api/incidents/1/resolve", json=body, headers=AUTH).status_code == 200
    assert client.get("/api/incidents?state=open").get_json()["incidents"] == []
