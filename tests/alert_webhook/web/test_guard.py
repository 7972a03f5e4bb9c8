"""web/guard.py: what a request must look like before any view sees it — an
allowed Host, no foreign Origin on a write, and JSON for `POST /alerts`."""

from __future__ import annotations

import json

import pytest
from webhook_support import make_notification

from alert_webhook import create_app
from alert_webhook.metrics.registry import create_metrics

BODY = json.dumps(make_notification()).encode()


def _stored(store) -> int:
    return store.count("notifications")


def test_a_cross_site_text_plain_post_is_refused_and_stores_nothing(client, store) -> None:
    # What a page on another site can send without a preflight: a "simple" POST.
    resp = client.post("/alerts", data=BODY, content_type="text/plain")
    assert resp.status_code == 415
    assert "application/json" in resp.get_json()["error"]
    assert _stored(store) == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_only_json_is_accepted_on_ingest(client, store, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.post("/alerts", data=BODY, headers=headers)
    assert resp.status_code == 415, content_type
    assert "Content-Type" in resp.get_json()["error"]
    assert _stored(store) == 0


def test_json_with_a_charset_is_json(client, store) -> None:
    resp = client.post("/alerts", data=BODY, content_type="application/json; charset=utf-8")
    assert resp.status_code == 200
    assert _stored(store) == 1


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8081"])
def test_a_foreign_origin_is_refused_even_with_json(client, store, origin) -> None:
    # A page elsewhere (or a sandboxed one, "null") may send JSON with fetch in
    # no-cors mode only as text/plain, but a browser always names its Origin.
    resp = client.post(
        "/alerts",
        data=BODY,
        content_type="application/json",
        headers={"Origin": origin},
        base_url="http://127.0.0.1:9095",
    )
    assert resp.status_code == 403
    assert origin in resp.get_json()["error"]
    assert _stored(store) == 0


def test_the_same_origin_and_no_origin_pass(client, store) -> None:
    same = client.post(
        "/alerts",
        data=BODY,
        content_type="application/json",
        headers={"Origin": "http://127.0.0.1:9095"},
        base_url="http://127.0.0.1:9095",
    )
    assert same.status_code == 200
    # Alertmanager, curl and scripts send no Origin at all.
    assert client.post("/alerts", data=BODY, content_type="application/json").status_code == 200


@pytest.mark.parametrize("path", ["/alerts", "/", "/api/incidents", "/healthz"])
def test_a_host_that_is_not_ours_is_refused_before_any_view(client, store, path) -> None:
    # DNS rebinding: the browser believes it talks to evil.example, which now
    # resolves to 127.0.0.1; the Host header still names evil.example.
    if path == "/alerts":
        resp = client.post(
            path, data=BODY, content_type="application/json", base_url="http://evil.example:9095"
        )
    else:
        resp = client.get(path, base_url="http://evil.example:9095")
    assert resp.status_code == 400
    assert "Host" in resp.get_json()["error"]
    assert _stored(store) == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:9095", "localhost:9095"])
def test_loopback_names_are_allowed_by_default(client, host) -> None:
    assert client.get("/healthz", base_url=f"http://{host}").status_code == 200


def test_allowed_hosts_are_configurable_and_the_bound_address_is_one(
    store, clock, make_settings
) -> None:
    settings = make_settings(
        {"auth": {"allowed_hosts": ["alerts.example.org", ".ops.example.org"]}},
        {"ALERT_WEBHOOK_TOKEN": "t"},
    )
    app = create_app(
        settings, store=store, metrics=create_metrics(), clock=clock, listen_host="192.0.2.10"
    )
    client = app.test_client()
    for host in ("alerts.example.org", "a.ops.example.org:443", "192.0.2.10:9095", "localhost"):
        assert client.get("/healthz", base_url=f"http://{host}").status_code == 200, host
    for host in ("example.org", "alerts.example.org.evil.example", "192.0.2.11"):
        assert client.get("/healthz", base_url=f"http://{host}").status_code == 400, host


def test_the_dashboard_url_host_is_allowed(app_factory) -> None:
    # Where messages send people must work: behind a proxy that keeps the Host.
    client = app_factory({"links": {"dashboard_url": "https://alerts.example.org/"}}).test_client()
    assert client.get("/healthz", base_url="https://alerts.example.org").status_code == 200
