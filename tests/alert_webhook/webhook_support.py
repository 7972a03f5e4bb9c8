"""Helpers shared by the webhook's tests: payload builders, a fake clock, contacts,
a delivery worker built as the factory builds it.

A uniquely named module (not `conftest`) so imports never collide with other
test folders' conftest modules."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from werkzeug.security import generate_password_hash

from alert_webhook.app.channels import Transports, build_channels
from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import Settings, settings_from_mapping
from alert_webhook.delivery.lanes import provider_breakers
from alert_webhook.delivery.worker import DeliveryWorker
from alert_webhook.ingest.planners import Recording
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.store import SqlStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alert_webhook"


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class FakeClock:
    """A clock tests move by hand; nothing in a unit test waits for real time."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# Two people on call, one next-tier contact, every channel routed by severity.
CONTACTS: dict[str, Any] = {
    "channels": {
        "email": {
            "recipients": ["oncall@example.org"],
            "escalation_recipients": ["lead@example.org"],
        },
        "sms": {"recipients": ["+15555550100"], "escalation_recipients": ["+15555550199"]},
    }
}
RECORDING = recording_from(settings_from_mapping(CONTACTS, {}), ["dashboard"])


def recording_for(settings: Settings) -> Recording:
    """How the app records with these settings (the dashboard is its stored channel)."""
    return recording_from(settings, ["dashboard"])


def make_alert(
    fingerprint: str = "fp1",
    status: str = "firing",
    severity: str = "critical",
    alertname: str = "DemoServiceDown",
    starts_at: str = "2026-11-28T09:03:31.568Z",
    **labels: str,
) -> dict[str, Any]:
    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T09:10:00Z"
    return {
        "status": status,
        "labels": {"alertname": alertname, "severity": severity, "instance": "db1:9100", **labels},
        "annotations": {
            "summary": f"{alertname} on db1",
            "description": "demo_up has been 0",
            "runbook_url": "https://example.org/runbooks/DemoServiceDown",
        },
        "startsAt": starts_at,
        "endsAt": ends,
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def make_notification(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    alerts = alerts or (make_alert(),)
    body = copy.deepcopy(fixture_json("firing-single.json"))
    body["alerts"] = list(alerts)
    body["status"] = status or (
        "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    )
    return body


class InlineExecutor(Executor):
    """Runs what is submitted at once, on the caller's thread: a worker's breaker
    trials then happen in step with the test."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def worker_for(
    store: SqlStore,
    settings: Settings,
    metrics: WebhookMetrics,
    clock: Callable[[], float],
    worker_id: str,
    transports: Transports | None = None,
    trials: Executor | None = None,
) -> DeliveryWorker:
    channels = build_channels(settings, transports)
    breakers = provider_breakers(channels, settings.delivery.breaker, metrics, clock)
    return DeliveryWorker(
        store.outbox, channels, breakers, settings.delivery, settings.links, settings.channels,
        metrics, clock=clock, rand=lambda: 0.5, worker_id=worker_id,
        trials=trials or InlineExecutor(),
    )  # fmt: skip


# One operator for the login tests; hashing once keeps each test fast.
OPERATOR_PASSWORD = "correct horse battery"
OPERATOR_HASH = generate_password_hash(OPERATOR_PASSWORD)
SECRET_KEY = {"ALERT_WEBHOOK_SECRET_KEY": "test-signing-key-" + "k" * 16}


def with_operator(data: dict[str, Any] | None = None, **auth: Any) -> dict[str, Any]:
    """`data` with the operator `alice` (and `auth` options) configured."""
    data = copy.deepcopy(data or {})
    data["auth"] = {"operators": {"alice": OPERATOR_HASH}, **auth}
    return data


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return match[1]


def log_in(client: Any, name: str = "alice", password: str = OPERATOR_PASSWORD) -> Any:
    """Log in through the login form, as a browser does; the response to the post."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls on threads released together; their results in order (an
    exception in one is raised here)."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results
