"""Delivery: the outbox worker (`worker.py`), its retry policy and circuit breakers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from alert_webhook.delivery.breaker import BreakerState, CircuitBreaker, breakers_for
from alert_webhook.delivery.channels import Channel
from alert_webhook.delivery.outbox import Lane
from alert_webhook.delivery.settings import BreakerSettings
from alert_webhook.metrics.registry import WebhookMetrics

logger = logging.getLogger("alert_webhook.delivery")


def lanes_for(channels: Mapping[str, Channel]) -> list[Lane]:
    """One lane per channel whose providers leave the process (email, SMS, a chat
    webhook), so that a provider hanging until its timeout delays only its own
    channel; everything else (dashboard, log, channels not configured, which are
    only recorded as skipped) shares the first lane."""
    own = [
        name
        for name, channel in channels.items()
        if channel.configured and not all(p.local for p in channel.providers)
    ]
    shared = Lane("deliveries", tuple(own), others=True)
    return [shared, *(Lane(f"deliveries:{name}", (name,)) for name in own)]


def provider_breakers(
    channels: Mapping[str, Channel],
    settings: BreakerSettings,
    metrics: WebhookMetrics,
    clock: Callable[[], float],
) -> dict[str, CircuitBreaker]:
    """A breaker per provider of every channel, keyed `channel:provider`; each state
    change sets alert_webhook_circuit_breaker_state, and an opening is logged."""

    def changed(name: str, state: BreakerState) -> None:
        metrics.breaker_state.labels(name).set(state.gauge)
        if state != BreakerState.CLOSED:
            logger.warning("circuit breaker %s is now %s", name, state)

    keys = [f"{c.name}:{p.name}" for c in channels.values() for p in c.providers]
    return breakers_for(keys, settings, clock, changed)
