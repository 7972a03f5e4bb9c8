"""api/incidents.py: list incidents and deliveries, acknowledge with the bearer token."""

from __future__ import annotations

import pytest
from webhook_support import CONTACTS, make_alert, make_notification

from alert_webhook import create_app
from alert_webhook.metrics import create_metrics
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
