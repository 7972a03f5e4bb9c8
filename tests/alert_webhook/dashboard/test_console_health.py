"""dashboard/health.py: the console's health panel — the improvement metrics over
all history, as the webhook's /metrics has them, and each channel's breakers."""

from __future__ import annotations

from alert_webhook.dashboard.health import channel_health, recovery_figures
from alert_webhook.reports.recovery import (
    Improvement,
    PlaybookAttempts,
    Resolutions,
    ServiceFailures,
    ServiceRecovery,
)


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
