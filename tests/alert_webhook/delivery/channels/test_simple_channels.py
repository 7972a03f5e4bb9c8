"""channels/simple.py: the JSON webhook against a loopback HTTP server; the log line."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from test_format import message

from alert_webhook.delivery.channels import DeliveryError, RetryAfter, Throttled
from alert_webhook.delivery.channels.simple import JsonWebhook, Log
from alert_webhook.delivery.settings import WebhookProvider


@pytest.fixture
def sink():
    state = {"status": 200, "received": [], "headers": {}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            data = self.rfile.read(int(self.headers["Content-Length"]))
            state["received"].append((self.headers.get("Authorization"), json.loads(data)))
            self.send_response(state["status"])
            for name, value in state["headers"].items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def _hook(url: str, token: str | None = None) -> JsonWebhook:
    return JsonWebhook(
        WebhookProvider(name="chat", url=url, timeout_seconds=2), token, requests.Session()
    )


def test_posts_the_structured_message_with_the_token(sink) -> None:
    _hook(sink["url"], "s3cret").send(message(channel="webhook", note="sms delivery failed"))
    ((auth, data),) = sink["received"]
    assert auth == "Bearer s3cret"
    assert data["alertname"] == "DemoServiceDown" and data["note"] == "sms delivery failed"
    assert data["runbook_url"].startswith("https://example.org/")


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (404, False)])
def test_http_errors_are_classified(sink, status: int, retryable: bool) -> None:
    sink["status"] = status
    with pytest.raises(DeliveryError) as exc:
        _hook(sink["url"]).send(message(channel="webhook"))
    assert exc.value.retryable is retryable


@pytest.mark.parametrize(
    ("header", "retry_after"),
    [({"Retry-After": "7"}, RetryAfter(seconds=7.0)),
     ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, RetryAfter(at=1792567680.0)),
     ({}, None), ({"Retry-After": "later"}, None)],
)  # fmt: skip
def test_a_429_is_throttling_with_its_retry_after(sink, header, retry_after) -> None:
    sink["status"], sink["headers"] = 429, header
    with pytest.raises(Throttled) as exc:
        _hook(sink["url"]).send(message(channel="webhook"))
    assert exc.value.retryable and exc.value.retry_after == retry_after


def test_log_channel_writes_one_json_line(caplog) -> None:
    logger = logging.getLogger("test.notify")
    with caplog.at_level(logging.INFO, logger="test.notify"):
        Log(logger).send(message(channel="log"))
    (record,) = caplog.records
    assert json.loads(record.getMessage())["event"] == "alert_notification"
