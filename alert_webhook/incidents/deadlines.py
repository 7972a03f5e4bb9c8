"""Deadlines and reminders: an unacknowledged incident past its deadline tells the
next tier; a critical one reminds every interval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from alert_webhook.delivery.routing import Target, recipients_for
from alert_webhook.delivery.rows import NewDelivery, Purpose
from alert_webhook.delivery.settings import ChannelsSettings
from alert_webhook.incidents.store import Incidents, OpenIncident
from alert_webhook.metrics.registry import WebhookMetrics

TIER2_CHANNELS = ("sms", "email")

logger = logging.getLogger("alert_webhook.incidents")


def _follow_ups(
    incident: OpenIncident, purpose: str, note: str, now: float, targets: list[Target]
) -> list[NewDelivery]:
    """One more message about a firing incident to each target."""
    return [
        NewDelivery.pending(incident.alert_id, incident.event_id, "firing", t, purpose, now, note)
        for t in targets
    ]


class DeadlineEscalation:
    """Past its response deadline and unacknowledged: tell the next tier."""

    def __init__(
        self,
        incidents: Incidents,
        contacts: ChannelsSettings,
        metrics: WebhookMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.incidents, self.contacts, self.metrics, self.clock = (
            incidents, contacts, metrics, clock,
        )  # fmt: skip

    def __call__(self) -> None:
        now = self.clock()
        for incident in self.incidents.past_deadline(now, tier=1):
            note = f"not acknowledged within its {incident.severity or 'unknown'} deadline"
            tier2 = partial(self._tier2, incident, note, now)
            if not self.incidents.escalate(incident, now, f"escalated to tier 2: {note}", tier2):
                continue
            self.metrics.escalations.labels("deadline_missed").inc()
            logger.warning("incident %s %s; escalated to tier 2", incident.alert_id, note)

    def _tier2(
        self, incident: OpenIncident, note: str, now: float, routed: list[str]
    ) -> list[NewDelivery]:
        """The next tier, on the person-to-person channels the alert was routed to."""
        channels = [c for c in TIER2_CHANNELS if c in routed] or ["email"]
        targets = [Target(c, r) for c in channels for r in recipients_for(c, self.contacts, 2)]
        return _follow_ups(incident, Purpose.TIER.nth(2), note, now, targets)


class Reminders:
    """A still-firing, unacknowledged critical alert reminds every interval, where its
    firing message was delivered."""

    def __init__(self, incidents: Incidents, interval: float, clock: Callable[[], float]) -> None:
        self.incidents, self.interval, self.clock = incidents, interval, clock

    def __call__(self) -> None:
        if self.interval <= 0:
            return
        now = self.clock()
        for incident in self.incidents.unacknowledged("critical", now):
            n = int((now - incident.opened_at) // self.interval)
            if n < 1:
                continue
            note = f"still firing (reminder {n})"
            self.incidents.remind(
                incident, n, partial(_follow_ups, incident, Purpose.REMIND.nth(n), note, now)
            )
