"""delivery/planner.py: the log channel sends in the recording transaction; a
resolved message goes that way only after its firing one was delivered, and a
send that raises leaves its delivery to the worker."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from webhook_support import CONTACTS, FakeClock, make_alert, make_notification, worker_for

from alert_webhook.app.channels import Transports, build_channels
from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.channels import Channel, Message, inline_channels
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.ingest.planners import Recording
from alert_webhook.ingest.record import RecordResult
from alert_webhook.metrics.registry import create_metrics
from alert_webhook.store import SqlStore, open_store


@pytest.fixture
def store(any_store: SqlStore) -> SqlStore:
    """On SQLite and on PostgreSQL."""
    return any_store


class Lines:
    name, local = "log", True

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Message] = []
        self.fail = fail

    def send(self, message: Message) -> None:
        if self.fail:
            raise OSError("disk full")
        self.sent.append(message)


def _recording(lines: Lines) -> Recording:
    log = Channel("log", [lines], inline=True)
    return recording_from(settings_from_mapping(CONTACTS, {}), ["dashboard"], inline={"log": log})


def _record(store: SqlStore, recording: Recording, status: str, at: float) -> RecordResult:
    body = json.dumps(make_notification(make_alert("a", status=status, severity="low"))).encode()
    return store.record_notification(parse_notification(body), body, at, recording)


def _log(store: SqlStore) -> list[dict[str, Any]]:
    found = sorted(store.outbox.list(), key=lambda d: d["id"])
    return [d for d in found if d["channel"] == "log"]


def test_sent_and_delivered_with_the_recording(store: SqlStore) -> None:
    lines = Lines()
    fired = _record(store, _recording(lines), "firing", 100.0)
    (log,) = _log(store)
    assert (log["status"], log["provider"], log["finished_at"]) == ("delivered", "log", 100.0)
    assert (fired.queued_deliveries, dict(fired.stored)) == (0, {"log": 1})
    (message,) = lines.sent
    assert (message.delivery_id, message.status, message.severity) == (log["id"], "firing", "low")
    assert message.labels["instance"] == "db1:9100" and message.alert_id == log["alert_id"]


def test_a_send_that_raises_leaves_the_delivery_to_the_worker(store: SqlStore) -> None:
    fired = _record(store, _recording(Lines(fail=True)), "firing", 100.0)
    (log,) = _log(store)
    assert (log["status"], log["provider"], log["attempts"], log["finished_at"]) == (
        "pending", None, 0, None,
    )  # fmt: skip
    assert (fired.queued_deliveries, dict(fired.stored)) == (1, {})
    # Its resolution waits for it with the worker, as every resolved message does.
    lines = Lines()
    resolved = _record(store, _recording(lines), "resolved", 101.0)
    assert [d["status"] for d in _log(store)] == ["pending", "pending"]
    assert (resolved.queued_deliveries, lines.sent) == (1, [])


def test_a_resolution_after_a_delivered_firing_message_is_sent_at_once(store: SqlStore) -> None:
    lines = Lines()
    _record(store, _recording(lines), "firing", 100.0)
    _record(store, _recording(lines), "resolved", 101.0)
    assert [d["status"] for d in _log(store)] == ["delivered", "delivered"]
    assert [m.status for m in lines.sent] == ["firing", "resolved"]


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


def _log_lines(name: str) -> tuple[logging.Logger, _Kept]:
    logger, kept = logging.Logger(name), _Kept()
    logger.addHandler(kept)
    return logger, kept


def test_the_line_written_inline_is_the_line_the_worker_writes(tmp_path) -> None:
    """The planner builds the inline message from the state change, the worker from
    the stored row: the same alert must give the same line either way."""
    settings = settings_from_mapping(CONTACTS, {})
    alert = make_alert("a", status="firing", severity="low", service="db")
    body = json.dumps(make_notification(alert)).encode()
    lines = {}
    for way in ("inline", "worker"):
        store = open_store(f"sqlite:///{tmp_path}/{way}.sqlite3")
        store.create_schema()
        try:
            logger, kept = _log_lines(way)
            transports = Transports(log=logger)
            inline = inline_channels(build_channels(settings, transports))
            recording = recording_from(
                settings, ["dashboard"], inline=inline if way == "inline" else None
            )
            store.record_notification(parse_notification(body), body, 100.0, recording)
            if way == "worker":
                clock = FakeClock(100.0)
                worker_for(store, settings, create_metrics(), clock, "w1", transports).run_once()
            (log,) = _log(store)
            assert log["status"] == "delivered"
            (line,) = kept.lines
            assert line.pop("delivery_id") == log["id"]
            lines[way] = line
        finally:
            store.dispose()
    assert lines["inline"] == lines["worker"]
