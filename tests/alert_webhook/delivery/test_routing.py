"""routing.py: severity defaults from the recovery plan, label routes, recipients."""

from __future__ import annotations

import pytest

from alert_webhook.delivery.routing import Target, channels_for, recipients_for, targets_for
from alert_webhook.delivery.settings import ChannelsSettings, RoutingSettings

DEFAULT = RoutingSettings()


@pytest.mark.parametrize(
    ("severity", "channels"),
    [
        ("critical", ["sms", "email", "dashboard"]),
        ("high", ["email", "dashboard"]),
        ("medium", ["dashboard"]),
        ("low", ["log"]),
        ("", ["dashboard", "log"]),
        ("bogus", ["dashboard", "log"]),
    ],
)
def test_recovery_plan_defaults_by_severity(severity: str, channels: list[str]) -> None:
    assert channels_for({"alertname": "X", "severity": severity}, DEFAULT) == channels


def test_first_matching_route_wins_over_severity() -> None:
    routing = RoutingSettings.model_validate(
        {
            "routes": [
                {"match": {"team": "db", "severity": "high"}, "channels": ["sms", "webhook"]},
                {"match_re": {"instance": "web-.*"}, "channels": ["log"]},
                {"match": {"team": "db"}, "channels": ["email"]},
            ]
        }
    )
    assert channels_for({"severity": "high", "team": "db"}, routing) == ["sms", "webhook"]
    assert channels_for({"severity": "low", "team": "db"}, routing) == ["email"]
    assert channels_for({"severity": "critical", "instance": "web-1"}, routing) == ["log"]
    # match_re is a full match, not a search
    assert channels_for({"severity": "medium", "instance": "xweb-1"}, routing) == ["dashboard"]


def test_missing_label_never_matches_an_exact_matcher() -> None:
    routing = RoutingSettings.model_validate(
        {"routes": [{"match": {"team": ""}, "channels": ["sms"]}]}
    )
    assert channels_for({"severity": "low"}, routing) == ["log"]


def test_recipients_per_tier() -> None:
    channels = ChannelsSettings.model_validate(
        {
            "email": {
                "recipients": ["a@example.org", "a@example.org"],
                "escalation_recipients": ["b@example.org"],
            },
            "sms": {"recipients": ["+15555550100"]},
        }
    )
    assert recipients_for("email", channels) == ["a@example.org"]
    assert recipients_for("email", channels, tier=2) == ["b@example.org"]
    assert recipients_for("sms", channels, tier=2) == []
    unconfigured = ChannelsSettings()
    assert recipients_for("email", unconfigured) == [""]  # recorded as skipped, not dropped
    assert recipients_for("dashboard", channels) == [""]
    assert recipients_for("dashboard", channels, tier=2) == []


def test_targets_expand_channels_to_recipients() -> None:
    channels = ChannelsSettings.model_validate(
        {
            "email": {"recipients": ["a@example.org"]},
            "sms": {"recipients": ["+15555550100", "+15555550101"]},
        }
    )
    assert targets_for({"severity": "critical"}, DEFAULT, channels) == [
        Target("sms", "+15555550100"),
        Target("sms", "+15555550101"),
        Target("email", "a@example.org"),
        Target("dashboard", ""),
    ]


def test_router_remembers_routes_by_the_labels_they_read_only() -> None:
    from alert_webhook.delivery.routing import Router

    routing = RoutingSettings.model_validate(
        {"routes": [{"match_re": {"instance": "db.*"}, "channels": ["log"]}]}
    )
    router = Router(routing, ChannelsSettings())
    db = {"alertname": "A", "severity": "medium", "instance": "db1"}
    web = {"alertname": "B", "severity": "medium", "instance": "web1"}
    for _ in range(2):  # the second round is answered from memory
        assert router.targets(db) == [Target("log")]
        assert router.targets(web) == [Target("dashboard")]
        assert router.targets({**web, "severity": "low"}) == [Target("log")]
    # Labels routing does not read share an answer; callers may change their copy.
    router.targets({**db, "team": "x"}).append(Target("sms"))
    assert router.targets(db) == [Target("log")]
