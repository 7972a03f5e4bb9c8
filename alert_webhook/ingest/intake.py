"""Intake: what accepting a notification means.

`accept()` is the one way in for every notification, from Alertmanager (the
ingest view) or from the webhook itself (the watchdog's own alert): record it
with whatever else is arriving (the group commit), count what the store
delivered by recording it, and wake the delivery loop for the rest (and the
remediation loop for the runs it planned).
"""

from __future__ import annotations

from collections.abc import Callable

from alert_webhook.ingest.group_commit import GroupCommit
from alert_webhook.ingest.payload import Notification
from alert_webhook.ingest.record import Incoming, RecordResult
from alert_webhook.metrics.registry import WebhookMetrics


class Intake:
    def __init__(
        self,
        writer: GroupCommit,
        metrics: WebhookMetrics,
        wake_deliveries: Callable[[], None],
        clock: Callable[[], float],
        wake_remediation: Callable[[], None] = lambda: None,
    ) -> None:
        self.writer, self.metrics, self.clock = writer, metrics, clock
        self.wake_deliveries, self.wake_remediation = wake_deliveries, wake_remediation

    def accept(self, notification: Notification, body: bytes, received_at: float) -> RecordResult:
        """Commit the notification (StoreUnavailable when the store cannot), then set
        what it planned in motion."""
        result = self.writer.record(Incoming(notification, body, received_at))
        latency = self.clock() - received_at
        for channel, count in result.stored.items():
            self.metrics.count_stored(count, latency, channel)
        if result.queued_deliveries:
            self.wake_deliveries()
        if result.planned_runs:
            self.wake_remediation()
        return result
