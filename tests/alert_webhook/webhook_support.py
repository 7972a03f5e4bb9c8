"""Helpers shared by the webhook's tests: payload builders, a fake clock, contacts.

A uniquely named module (not `conftest`) so imports never collide with other
test folders' conftest modules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from alert_webhook.routing import planner_from
from alert_webhook.settings import settings_from_mapping

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
