"""dashboard/health.py: the console's health panel — the improvement metrics over
all history, as the webhook's /metrics has them, time to acknowledge and to
resolve by severity, and each channel's breakers."""

from __future__ import annotations

import re

from webhook_support import make_alert, make_notification

from alert_webhook.dashboard.health import channel_health, recovery_figures, response_figures
from alert_webhook.reports.recovery import (
    Improvement,
    PlaybookAttempts,
    Resolutions,
    ServiceFailures,
    ServiceRecovery,
)
from alert_webhook.reports.response import ACKNOWLEDGE, RESOLVE, Distribution


def test_the_figures_are_the_metrics_ratios_over_all_history() -> None:
    found = Improvement(
        recoveries=[ServiceRecovery("api", 2, 120.0, 50.0), ServiceRecovery("db", 1, 30.0, 30.0)],
        playbooks=[PlaybookAttempts("restart", 4, 3), PlaybookAttempts("failover", 1, 0)],
        actions=[],
        incidents=Resolutions(automated=3, acknowledged=1, unattended=2),
        failures=[ServiceFailures("api", 3, 0.0, 7200.0), ServiceFailures("db", 1, 50.0, 50.0)],
    )
    f = recovery_figures(found)
    assert f.recovery_seconds == 50.0 and f.recoveries == 3  # (120 + 30) / 3
    assert (f.recovered_runs, f.acting_runs) == (3, 5) and f.success_rate == 0.6
    assert (f.automated, f.closed) == (3, 6) and f.automation == 0.5
    assert f.between_failures_seconds == 3600.0  # 7200 s over api's 2 gaps; db has none


def test_with_no_history_there_is_no_ratio() -> None:
    f = recovery_figures(Improvement([], [], [], Resolutions(), []))
    assert f.recovery_seconds is None and f.success_rate is None
    assert f.automation is None and f.between_failures_seconds is None


def test_a_channel_s_breakers_and_recent_failures_are_together() -> None:
    health = channel_health(
        channels={"email": None, "sms": "not configured: missing TWILIO_AUTH_TOKEN"},
        breakers={"email:relay-a": "closed", "email:relay-b": "open", "sms:twilio": "closed"},
        failures={"email": [{"id": 9, "last_error": "relay-b: 421", "at": 5.0}]},
    )
    email, sms = health
    assert (email.name, email.problem, email.breakers) == (
        "email",
        None,
        [("relay-a", "closed"), ("relay-b", "open")],
    )
    assert email.failures[0]["last_error"] == "relay-b: 421"
    assert sms.problem == "not configured: missing TWILIO_AUTH_TOKEN" and sms.failures == []


def test_only_a_channel_given_providers_that_cannot_send_is_failing() -> None:
    sms, webhook, email = channel_health(
        channels={
            "sms": "not configured: missing TWILIO_AUTH_TOKEN",
            "webhook": "not configured: no providers in the webhook config",
            "email": None,
        },  # fmt: skip
        breakers={},
        failures={},
        unused=frozenset({"webhook"}),
    )
    assert sms.failing and not webhook.failing and not email.failing
    assert webhook.unused and webhook.problem is not None, "still not configured, plainly"


def _dist(*seconds: float) -> Distribution:
    d = Distribution()
    for s in seconds:
        d.observe(s)
    return d


def test_response_times_by_severity_in_the_plan_s_order_then_all() -> None:
    found = {
        (ACKNOWLEDGE, "high", "db"): _dist(10, 20),
        (RESOLVE, "high", "db"): _dist(100),
        (RESOLVE, "critical", "api"): _dist(40, 50),
        (RESOLVE, "critical", "db"): _dist(50),
        (RESOLVE, "<b>odd</b>", ""): _dist(5),
    }
    rows = response_figures(found)
    assert [r.severity for r in rows] == ["critical", "high", "<b>odd</b>", "all"]
    critical, high, _, every = rows
    assert (critical.acknowledged, critical.acknowledge_median) == (0, None)
    assert critical.resolved == 3 and critical.resolve_median == 30 + 30 * (1.5 / 3)
    assert (high.acknowledged, high.acknowledge_median) == (2, 15.0)
    assert every.resolved == 5 and every.acknowledged == 2
    assert response_figures({}) == []


def test_the_console_shows_them_on_its_health_panel(client) -> None:
    alert = make_alert("a", service="db")
    client.post("/alerts", json=make_notification(alert))
    client.post("/alerts", json=make_notification({**alert, "status": "resolved"}))
    html = client.get("/").get_data(as_text=True)
    row = re.search(r'<tr data-severity="critical">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row[1])
    assert cells == ["critical", "0", "-", "-", "1", "0 s", "0 s"]
