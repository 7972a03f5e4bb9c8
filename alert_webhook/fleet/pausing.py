"""The fleet breaker at work: its limits over the store's pauses, and its page.

The runner asks `in_force` before judging a run (through the guardrails'
history), and `trip` when the breaker's limits stop a run: the pause and its
page are written in one transaction (`pauses.py`), once across replicas. The
page goes to whoever a critical alert named `FleetAutomationPaused` is routed
to (`breaker.PAGE_LABELS`), as a delivery of the run whose judging tripped it
(`fleet-breaker-<pause id>`): the deliveries' table keys each message to an
alert, and that run's alert is what the breaker was deciding about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.delivery.routing import Router
from alert_webhook.delivery.rows import NewDelivery, Purpose, telling
from alert_webhook.fleet.breaker import (
    PAGE_LABELS,
    Acted,
    Pause,
    Trip,
    in_force,
    page_text,
    tripped,
)
from alert_webhook.fleet.pauses import FleetPauses
from alert_webhook.fleet.settings import BreakerSettings

logger = logging.getLogger("alert_webhook.fleet")


@dataclass(frozen=True)
class BreakerPage:
    """The deliveries of a trip's page: routed as a critical alert; the channels
    whose transport is the store are written delivered."""

    router: Router
    stored_channels: frozenset[str]

    def rows(
        self, text: str, alert_id: int, event_id: int, purpose: str, now: float
    ) -> list[NewDelivery]:
        targets = self.router.targets(PAGE_LABELS)
        return telling(alert_id, event_id, targets, self.stored_channels, purpose, text, now)


@dataclass(frozen=True)
class FleetBreaker:
    limits: BreakerSettings
    pauses: FleetPauses
    page: BreakerPage

    def latest(self, now: float) -> Pause | None:
        """The newest pause; one that `resume_after` lifted is recorded so first (a
        write only then: every replica already reads it as lifted)."""
        latest = self.pauses.latest()
        if latest is None or latest.resumed_at is not None:
            return latest
        lifted = latest.lifted_at(self.limits.resume_after)
        if lifted is not None and lifted <= now:
            self.pauses.settle(now, self.limits.resume_after)
            latest = self.pauses.latest()
        return latest

    def in_force(self, now: float) -> Pause | None:
        """The pause holding now (a read: what the console and the metric show)."""
        return in_force(self.limits, self.pauses.latest(), now)

    def tripped(
        self, attempts: Sequence[Acted], host: str | None, now: float, latest: Pause | None
    ) -> Trip | None:
        """The limit a run on `host` trips now; None also while a pause holds."""
        if in_force(self.limits, latest, now) is not None:
            return None
        return tripped(self.limits, attempts, host, now, latest)

    def trip(self, trip: Trip, now: float, run_id: int, alert_id: int, event_id: int) -> Pause:
        """Pause automation and page once; the pause in force (another replica's, if
        it tripped first)."""
        resume_after = self.limits.resume_after
        resumes_at = None if resume_after is None else now + resume_after

        def page(pause: Pause) -> list[NewDelivery]:
            text = page_text(trip, run_id, resumes_at)
            purpose = Purpose.FLEET_BREAKER.nth(pause.id)
            return self.page.rows(text, alert_id, event_id, purpose, now)

        pause, won = self.pauses.trip(trip, now, run_id, page, resume_after)
        if won:
            logger.warning("fleet automation paused (%s): %s", trip.limit, trip.reason)
        return pause


class PausedCollector:
    """`alert_webhook_fleet_automation_paused`: 1 while a fleet breaker's pause
    holds, else 0, read from the store when Prometheus scrapes (so every replica
    says the same, and a `resume_after` that passed reads 0 before anyone
    records it). Left out of a scrape the store cannot answer."""

    def __init__(
        self, pauses: FleetPauses, limits: BreakerSettings, clock: Callable[[], float]
    ) -> None:
        self.pauses, self.limits, self.clock = pauses, limits, clock

    @staticmethod
    def _family(value: float | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "alert_webhook_fleet_automation_paused",
            "1 while the fleet breaker has paused remediation on every host, else 0.",
            value=value,
        )

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        try:
            latest = self.pauses.latest()
        except StoreUnavailable as exc:
            logger.warning("fleet pause gauge left out of this scrape: %s", exc)
            return
        held = in_force(self.limits, latest, self.clock())
        yield self._family(0.0 if held is None else 1.0)
