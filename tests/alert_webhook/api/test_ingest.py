"""api/ingest.py: POST /alerts answers 2xx only after commit; bad input is a 4xx naming it."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_support import CONTACTS, fixture_json, make_alert, make_notification

from alert_webhook.config.environment import TOKEN_ENV
from alert_webhook.db.transactions import StoreUnavailable


@pytest.fixture
def store(any_store):
    """Each test here runs on SQLite and on PostgreSQL: the same input, the same answer."""
    return any_store


def _post(client, data, headers=None):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post("/alerts", data=body, headers=headers or {}, content_type="application/json")


def _counts(store) -> tuple[int, int, int]:
    return tuple(store.count(t) for t in ("notifications", "alerts", "alert_events"))


def test_real_payload_is_stored_and_listed(client, store) -> None:
    resp = _post(client, fixture_json("firing-single.json"))
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "stored"
    assert resp.get_json()["state_changes"] == 1
    alerts = client.get("/api/alerts?status=firing").get_json()["alerts"]
    assert [a["fingerprint"] for a in alerts] == ["f284911ae1ecea1d"]
    assert client.get("/api/alerts?status=resolved").get_json()["alerts"] == []


def test_a_late_firing_copy_after_the_resolution_sends_nothing(app_factory) -> None:
    """The RESOLVED e-mail must not be followed by a CRITICAL one for the same alert."""
    app = app_factory(CONTACTS)
    client = app.test_client()
    assert _post(client, make_notification(make_alert("a", status="resolved"))).status_code == 200
    late = _post(client, make_notification(make_alert("a"))).get_json()
    assert (late["state_changes"], late["stale"]) == (0, 1)
    app.extensions["alert_webhook"].workers.run_once()
    deliveries = client.get("/api/deliveries").get_json()["deliveries"]
    assert deliveries and {d["event_status"] for d in deliveries} == {"resolved"}
    assert client.get("/api/incidents").get_json()["incidents"] == []


def test_firing_then_resolved_moves_between_lists(client) -> None:
    _post(client, make_notification(make_alert("a")))
    _post(client, make_notification(make_alert("a", status="resolved")))
    assert client.get("/api/alerts?status=firing").get_json()["alerts"] == []
    (alert,) = client.get("/api/alerts?status=resolved").get_json()["alerts"]
    assert alert["alertname"] == "DemoServiceDown" and alert["status"] == "resolved"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{oops", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (json.dumps({"version": "4"}).encode(), "groupKey"),
        (json.dumps(make_notification(make_alert(fingerprint=""))).encode(), "fingerprint"),
    ],
)
def test_bad_input_is_400_naming_the_problem_and_nothing_is_stored(
    client, store, body: bytes, needle: str
) -> None:
    resp = _post(client, body)
    assert resp.status_code == 400
    assert needle in json.dumps(resp.get_json())
    assert _counts(store) == (0, 0, 0)


def test_one_bad_alert_rejects_the_whole_notification(client, store) -> None:
    data = make_notification(make_alert("good"), make_alert("bad"))
    data["alerts"][1]["startsAt"] = 12
    resp = _post(client, data)
    assert resp.status_code == 400
    assert resp.get_json()["problems"][0]["field"] == "alerts[1].startsAt"
    assert _counts(store) == (0, 0, 0)


def test_ten_megabyte_body_is_413(client, store) -> None:
    resp = _post(client, b"{" + b" " * (10 * 1024 * 1024) + b"}")
    assert resp.status_code == 413
    assert "error" in resp.get_json()
    assert _counts(store) == (0, 0, 0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic c2VjcmV0"},
        {"Authorization": "secret"},
    ],
)
def test_wrong_or_missing_token_is_401(app_factory, store, headers) -> None:
    client = app_factory(env={TOKEN_ENV: "secret"}).test_client()
    resp = _post(client, make_notification(), headers)
    assert resp.status_code == 401
    assert "bearer token" in resp.get_json()["error"]
    assert "secret" not in resp.get_data(as_text=True)
    assert _counts(store) == (0, 0, 0)


def test_right_token_is_accepted(app_factory) -> None:
    client = app_factory(env={TOKEN_ENV: "secret"}).test_client()
    assert _post(client, make_notification(), {"Authorization": "Bearer secret"}).status_code == 200


def test_store_unavailable_is_503_so_alertmanager_retries(client, store, monkeypatch) -> None:
    def down(*_a, **_k):
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(store, "record_many", down)
    resp = _post(client, make_notification())
    assert resp.status_code == 503
    assert "retry" in resp.get_json()["error"]


def test_metrics_count_outcomes(app_factory) -> None:
    app = app_factory()
    client = app.test_client()
    _post(client, make_notification(make_alert("a"), make_alert("b")))
    _post(client, b"nope")
    registry = app.extensions["alert_webhook"].metrics.registry
    get = registry.get_sample_value
    assert get("alert_webhook_notifications_received_total", {"outcome": "stored"}) == 1
    assert get("alert_webhook_notifications_received_total", {"outcome": "rejected"}) == 1
    assert get("alert_webhook_alerts_received_total", {"status": "firing"}) == 2
    assert "alert_webhook_notifications_received_total" in client.get("/metrics").get_data(
        as_text=True
    )


# NUL explicitly: PostgreSQL's text cannot hold it, whichever field it is in.
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["\x00", "fp\x00", "firing\x00"])
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["status", "labels", "startsAt", "fingerprint", "annotations", "endsAt"]),
    value=json_leaf
    | st.lists(json_leaf, max_size=3)
    | st.dictionaries(st.text(max_size=5), json_leaf, max_size=3),
)
def test_fuzzed_alert_fields_are_never_5xx(client, field: str, value: object) -> None:
    data = make_notification(make_alert("fz"))
    data["alerts"][0][field] = value
    resp = _post(client, data)
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)


def test_metrics_has_request_durations_for_post_alerts_beside_the_webhooks_own(
    app_factory,
) -> None:
    app = app_factory()
    client = app.test_client()
    assert _post(client, make_notification(make_alert("a", severity="medium"))).status_code == 200
    assert [r.rule for r in app.url_map.iter_rules() if r.rule == "/metrics"] == ["/metrics"]
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_request_duration_seconds_count{handler="/alerts",method="POST",status="200"}' in (
        text
    )
    assert "http_requests_in_flight" in text and "alert_webhook_deliveries_pending" in text
    get = app.extensions["alert_webhook"].metrics.registry.get_sample_value
    # The dashboard's delivery was delivered when stored: counted like any other.
    labels = {"channel": "dashboard", "provider": "dashboard", "outcome": "delivered"}
    assert get("alert_webhook_deliveries_total", labels) == 1
    assert get("alert_webhook_delivery_latency_seconds_count", {"channel": "dashboard"}) == 1


def test_a_nul_in_a_value_is_stored_as_the_replacement_character(client, store) -> None:
    """PostgreSQL cannot hold NUL in text: the webhook stores U+FFFD in its place, on
    both stores, rather than lose the notification to a 500 Alertmanager retries forever."""
    odd = make_alert("odd", severity="medium", alertname="Disk\x00Full", mount="/\x00data")
    odd["annotations"]["summary"] = "full\x00"
    data = make_notification(make_alert("plain", severity="medium"), odd)
    data["receiver"] = "web\x00hook"
    resp = _post(client, data)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    stored = {a["fingerprint"]: a for a in client.get("/api/alerts").get_json()["alerts"]}
    assert set(stored) == {"plain", "odd"}  # the neighbour is not lost with it
    assert stored["odd"]["alertname"] == "Disk\ufffdFull"
    assert stored["odd"]["labels"]["mount"] == "/\ufffddata"
    assert stored["odd"]["annotations"]["summary"] == "full\ufffd"


def test_label_values_of_any_length_are_stored_on_both_stores(client, store) -> None:
    long_name, long_severity = "A" * 300, "s" * 100
    data = make_notification(
        make_alert("long", alertname=long_name, severity=long_severity),
        make_alert("short", severity="medium"),
    )
    data["receiver"] = "r" * 300
    resp = _post(client, data)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    stored = {a["fingerprint"]: a for a in client.get("/api/alerts").get_json()["alerts"]}
    assert stored["long"]["alertname"] == long_name
    assert stored["long"]["severity"] == long_severity
    assert set(stored) == {"long", "short"}


def test_a_starts_at_without_a_time_zone_is_400_naming_it(client, store) -> None:
    data = make_notification(make_alert("naive", starts_at="2026-11-28T09:03:31"))
    resp = _post(client, data)
    assert resp.status_code == 400
    [problem] = resp.get_json()["problems"]
    assert problem["field"] == "alerts[0].startsAt" and "timezone" in problem["problem"]
    assert _counts(store) == (0, 0, 0)


def test_a_truncated_count_no_store_column_holds_is_400_on_both_stores(client, store) -> None:
    data = make_notification()
    data["truncatedAlerts"] = 2**31  # past PostgreSQL's INTEGER; SQLite would take it
    resp = _post(client, data)
    assert resp.status_code == 400
    assert resp.get_json()["problems"][0]["field"] == "truncatedAlerts"
    assert _counts(store) == (0, 0, 0)


def test_a_long_recipient_address_is_stored_on_both_stores(app_factory, store) -> None:
    address = "a" * 64 + "@" + ".".join(["d" * 60] * 3) + ".org"  # 250 characters, valid
    client = app_factory({"channels": {"email": {"recipients": [address]}}}).test_client()
    resp = _post(client, make_notification(make_alert("mail", severity="high")))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert address in {d["recipient"] for d in store.outbox.list()}


def _log_lines(caplog) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "alert_webhook.notify"]


def test_a_log_delivery_settles_in_the_recording_transaction(app_factory, store, caplog) -> None:
    """The log channel is a local line: written before the recording commits and
    stored delivered with it, never claimed by a worker (no claim and outcome
    transactions after the recording's); counted as the worker counts it."""
    app = app_factory(CONTACTS)
    client, metrics = app.test_client(), app.extensions["alert_webhook"].metrics
    caplog.set_level("WARNING", logger="alert_webhook.notify")
    for status in ("firing", "resolved"):
        resp = _post(client, make_notification(make_alert("a", status=status, severity="low")))
        assert resp.status_code == 200
        (log,) = [d for d in store.outbox.list() if d["event_status"] == status]
        assert (log["channel"], log["status"], log["provider"]) == ("log", "delivered", "log")
        assert (log["attempts"], log["claimed_by"]) == (1, None)
        assert log["finished_at"] is not None
        assert _log_lines(caplog)[-1]["delivery_id"] == log["id"]
    assert [(x["status"], x["severity"]) for x in _log_lines(caplog)] == [
        ("firing", "low"), ("resolved", "low"),
    ]  # fmt: skip
    count = metrics.registry.get_sample_value(
        "alert_webhook_deliveries_total",
        {"channel": "log", "provider": "log", "outcome": "delivered"},
    )
    assert count == 2
    app.extensions["alert_webhook"].workers.run_once()  # nothing left for a worker
    assert len(_log_lines(caplog)) == 2
