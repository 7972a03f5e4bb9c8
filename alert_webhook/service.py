"""The service layer under the views: what accepting a notification means.

`accept()` is the one way in for every notification, from Alertmanager (the
ingest view) or from the webhook itself (the watchdog's own alert): record it
with whatever else is arriving (the group commit), count what the store
delivered by recording it, and wake the delivery loop for the rest (and the
remediation loop for the runs it planned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alert_webhook.metrics import WebhookMetrics
from alert_webhook.payload import Notification
from alert_webhook.remediation.guardrails import default_guardrails
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE, Playbooks, load_playbooks
from alert_webhook.remediation.runner import Remediation
from alert_webhook.remediation.verify import Checks, HttpPrometheus
from alert_webhook.routing import Router
from alert_webhook.settings import Settings
from alert_webhook.store import Incoming, Recording, RecordResult
from alert_webhook.store.group_commit import GroupCommit
from alert_webhook.store.planners import DeliveryPlanner, IncidentPlanner, Planner


def recording_from(
    settings: Settings, stored_channels: Iterable[str], extra: Iterable[Planner] = ()
) -> Recording:
    """Incidents and deliveries planned with each state change (and any `extra`
    planners, in the same transaction); the watchdog's heartbeat only noted."""
    watchdog = settings.watchdog
    planners: list[Planner] = [
        IncidentPlanner({str(k): v for k, v in settings.incidents.deadlines_seconds.items()}),
        DeliveryPlanner(Router(settings.routing, settings.channels), frozenset(stored_channels)),
        *extra,
    ]
    return Recording(tuple(planners), watchdog.alertname if watchdog.enabled else None)


def load_remediation_playbooks(settings: Settings) -> Playbooks | None:
    """The playbook file the settings name (ConfigError listing every problem in
    it), or None when remediation is off."""
    cfg = settings.remediation
    if not cfg.enabled:
        return None
    return load_playbooks(cfg.playbooks_file or DEFAULT_PLAYBOOK_FILE)


def remediation_from(settings: Settings, playbooks: Playbooks | None) -> Remediation | None:
    """Playbooks and guardrails for the runner and the plan view; None when off.
    The settings' dry run and the file's both hold."""
    if not settings.remediation.enabled or playbooks is None:
        return None
    cfg = settings.remediation
    prometheus = HttpPrometheus(
        cfg.prometheus_url or settings.links.prometheus_url, timeout=cfg.prometheus_timeout_seconds
    )
    return Remediation(playbooks, default_guardrails(cfg.dry_run or playbooks.dry_run),
                       Checks(prometheus))  # fmt: skip


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
