"""Pure routing: an alert's labels → the channels that carry it, and to whom.

The first configured route whose matchers all hold wins; otherwise the alert's
severity picks its default channels (critical: SMS, email and dashboard;
high: email and dashboard; medium: dashboard; low: the log). Nothing here reads the store or
the clock, so every rule is a plain function test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from alert_webhook.delivery.settings import ChannelsSettings, Route, RoutingSettings


@dataclass(frozen=True, order=True)
class Target:
    """One delivery's destination: a channel and, where it has them, a recipient."""

    channel: str
    recipient: str = ""


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def labels_match(
    match: Mapping[str, str], match_re: Mapping[str, str], labels: Mapping[str, str]
) -> bool:
    """Every exact matcher equals its label and every regex fully matches its label (a
    missing label is the empty string for a regex, and never equals an exact value).
    Routes and remediation playbooks select alerts with the same matchers."""
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    return all(_compiled(p).fullmatch(labels.get(k, "")) for k, p in match_re.items())


def route_matches(route: Route, labels: Mapping[str, str]) -> bool:
    return labels_match(route.match, route.match_re, labels)


def channels_for(labels: Mapping[str, str], routing: RoutingSettings) -> list[str]:
    for route in routing.routes:
        if route_matches(route, labels):
            return list(dict.fromkeys(route.channels))
    severity = labels.get("severity", "")
    chosen = routing.severity_channels.get(severity)  # type: ignore[call-overload]
    return list(dict.fromkeys(chosen if chosen is not None else routing.fallback_channels))


def recipients_for(channel: str, channels: ChannelsSettings, tier: int = 1) -> list[str]:
    """Who a channel reaches at escalation `tier` (1: on call, 2: the next tier)."""
    if channel in ("email", "sms"):
        settings = channels.email if channel == "email" else channels.sms
        if tier != 1:
            return list(dict.fromkeys(settings.escalation_recipients))
        # No one configured: one delivery that is recorded as skipped, never dropped.
        return list(dict.fromkeys(settings.recipients)) or [""]
    if tier != 1:
        return []
    return [""]  # dashboard, log, webhook: one delivery, no person


def targets_for(
    labels: Mapping[str, str], routing: RoutingSettings, channels: ChannelsSettings
) -> list[Target]:
    return [
        Target(channel, recipient)
        for channel in channels_for(labels, routing)
        for recipient in recipients_for(channel, channels)
    ]


ROUTE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Router:
    """Routing with the answer remembered: routing reads only the severity and the
    labels the routes name, so the targets for those values are kept (bounded), and
    recording 100 alerts of one group routes each distinct value set once."""

    routing: RoutingSettings
    channels: ChannelsSettings
    _routed: dict[tuple[str | None, ...], tuple[Target, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _route_keys: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = {"severity"}
        for route in self.routing.routes:
            keys |= set(route.match) | set(route.match_re)
        object.__setattr__(self, "_route_keys", tuple(sorted(keys)))

    def targets(self, labels: Mapping[str, str]) -> list[Target]:
        key = tuple([labels.get(k) for k in self._route_keys])
        routed = self._routed.get(key)
        if routed is None:
            if len(self._routed) >= ROUTE_CACHE_SIZE:
                self._routed.clear()
            routed = tuple(targets_for(labels, self.routing, self.channels))
            self._routed[key] = routed
        return list(routed)
