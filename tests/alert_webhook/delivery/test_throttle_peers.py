"""Throttling against real peers on the real clock: a chat webhook receiver (a local
HTTP server) and the real twilio client against a loopback Messages API, each
answering the first message 429 with `Retry-After: 2`. The webhook's lanes run as
in production; the next try comes no sooner than asked, no breaker opens, and the
throttling shows on /metrics. (The rules themselves, on a fake clock:
test_throttle.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakes import TWILIO_ENV, fake_twilio, twilio_provider
from webhook_support import make_alert, make_notification

from alert_webhook import create_app
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.metrics.registry import WebhookMetrics, create_metrics
from alert_webhook.store import SqlStore

pytestmark = pytest.mark.integration

RETRY_AFTER = 2
DELIVERY = {"poll_interval_seconds": 0.05, "retry": {"base_delay_seconds": 0.1}}


@contextmanager
def receiver(answers: list[int]) -> Iterator[tuple[str, list[float]]]:
    """A chat webhook answering each POST with the next of `answers` (then 200); a
    429 carries Retry-After. Yields its URL and when each POST arrived."""
    arrived: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            arrived.append(time.monotonic())
            status = answers.pop(0) if answers else 200
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", str(RETRY_AFTER))
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived
    finally:
        server.shutdown()
        server.server_close()


def _run(store: SqlStore, config: dict[str, Any], env: dict[str, str], done) -> WebhookMetrics:
    metrics = create_metrics()
    app = create_app(settings_from_mapping(config, env), store=store, metrics=metrics)
    workers = app.extensions["alert_webhook"].workers
    workers.start()
    try:
        assert app.test_client().post("/alerts", json=make_notification(make_alert("a")))
        deadline = time.monotonic() + RETRY_AFTER * 5
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done(), "the message never went out after the throttling"
        scraped = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        workers.stop()
    assert 'outcome="throttled"' in scraped
    return metrics


def _throttled_then_delivered(store: SqlStore, channel: str, provider: str) -> None:
    (row,) = [d for d in store.outbox.list() if d["channel"] == channel]
    assert row["status"] == "delivered"
    assert f"Retry-After {RETRY_AFTER} s" in row["last_error"], row["last_error"]


def _breaker_closed(metrics: WebhookMetrics, key: str) -> None:
    registry = metrics.registry
    assert registry.get_sample_value("alert_webhook_circuit_breaker_state", {"provider": key}) == 0


def test_a_webhook_receiver_answering_429_is_asked_again_no_sooner_than_it_said(store) -> None:
    with receiver([429]) as (url, arrived):
        config = {
            "channels": {"webhook": {"providers": [{"name": "chat", "url": url}]}},
            "routing": {
                "routes": [{"match": {"alertname": "DemoServiceDown"}, "channels": ["webhook"]}]
            },
            "delivery": DELIVERY,
        }
        metrics = _run(store, config, {}, lambda: len(arrived) >= 2)
    assert arrived[1] - arrived[0] >= RETRY_AFTER - 0.01, arrived
    _throttled_then_delivered(store, "webhook", "chat")
    _breaker_closed(metrics, "webhook:chat")


def test_twilio_answering_429_is_asked_again_no_sooner_than_it_said(store) -> None:
    with fake_twilio() as twilio:
        twilio.queue, twilio.retry_after = ["rate_limited"], str(RETRY_AFTER)
        config = {
            "channels": {
                "sms": {"providers": [twilio_provider(twilio)], "recipients": ["+15555550100"]}
            },
            "routing": {
                "routes": [{"match": {"alertname": "DemoServiceDown"}, "channels": ["sms"]}]
            },
            "delivery": DELIVERY,
        }

        metrics = _run(store, config, TWILIO_ENV, lambda: bool(twilio.received))
    assert twilio.asked == ["rate_limited", "ok"]
    first, second = twilio.asked_at
    assert second - first >= RETRY_AFTER - 0.01, twilio.asked_at
    _throttled_then_delivered(store, "sms", "twilio1")
    _breaker_closed(metrics, "sms:twilio1")
