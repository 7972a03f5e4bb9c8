"""Shared fixtures for the webhook's tests: a fresh store, an app, payload builders."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alert_webhook import create_app
from alert_webhook.metrics import create_metrics
from alert_webhook.routing import planner_from
from alert_webhook.settings import Settings, settings_from_mapping
from alert_webhook.store import SqlStore, open_store

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


# Two people on call, one next-tier contact, every channel routed by the plan.
CONTACTS: dict[str, Any] = {
    "channels": {
        "email": {
            "recipients": ["oncall@example.org"],
            "escalation_recipients": ["lead@example.org"],
        },
        "sms": {"recipients": ["+15555550100"], "escalation_recipients": ["+15555550199"]},
    }
}
PLANNER = planner_from(settings_from_mapping(CONTACTS, {}))


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
        return settings_from_mapping(data or {}, env or {})

    return build


@pytest.fixture
def app_factory(store: SqlStore, clock: FakeClock, make_settings: Callable[..., Settings]):
    def build(data: dict[str, Any] | None = None, env: dict[str, str] | None = None, **kw: Any):
        return create_app(
            make_settings(data, env), store=store, metrics=create_metrics(), clock=clock, **kw
        )

    return build


@pytest.fixture
def client(app_factory):
    return app_factory().test_client()
