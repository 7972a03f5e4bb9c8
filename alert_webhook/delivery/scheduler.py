"""Time-driven duties beside the outbox: deadlines, reminders, the watchdog heartbeat.

Each writes deliveries through the same unique constraint as ingest, so when
replicas all run it, people still hear each thing once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from alert_webhook.metrics import WebhookMetrics
from alert_webhook.payload import parse_notification
from alert_webhook.routing import Planner, Target, recipients_for
from alert_webhook.settings import Settings
from alert_webhook.store import SqlStore
from alert_webhook.store.incidents import OpenIncident
from alert_webhook.store.record import delivery_row

logger = logging.getLogger("alert_webhook.scheduler")
PIPELINE_BROKEN = "AlertingPipelineBroken"
# The alerts the webhook raises itself, by severity; each has its runbook at
# <links.runbook_base_url>/<alertname>.md, like the rules' alerts.
OWN_ALERTS: dict[str, str] = {PIPELINE_BROKEN: "critical"}
TIER2_CHANNELS = ("sms", "email")


def runbook_url(settings: Settings, alertname: str) -> str:
    return f"{settings.links.runbook_base_url.rstrip('/')}/{alertname}.md"


class Scheduler:
    def __init__(
        self,
        store: SqlStore,
        settings: Settings,
        planner: Planner,
        metrics: WebhookMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.settings, self.planner, self.metrics = store, settings, planner, metrics
        self.clock = clock

    def run_once(self) -> None:
        self.escalate_overdue()
        self.remind()
        self.check_watchdog()

    def escalate_overdue(self) -> None:
        """Past its response deadline and unacknowledged: tell the next tier."""
        now = self.clock()
        for incident in self.store.incidents.past_deadline(now, tier=1):
            if not self.store.incidents.raise_tier(incident.alert_id, 1, now):
                continue
            routed = set(self.store.outbox.channels_of(incident.alert_id))
            channels = [c for c in TIER2_CHANNELS if c in routed] or ["email"]
            note = f"not acknowledged within its {incident.severity or 'unknown'} deadline"
            targets = [
                Target(c, r)
                for c in channels
                for r in recipients_for(c, self.settings.channels, tier=2)
            ]
            self._follow_up(incident, targets, "tier-2", note, now)
            self.store.outbox.flag_incident(incident.alert_id, f"escalated to tier 2: {note}")
            self.metrics.escalations.labels("deadline_missed").inc()
            logger.warning("incident %s %s; escalated to tier 2", incident.alert_id, note)

    def remind(self) -> None:
        """A still-firing, unacknowledged critical alert reminds every interval."""
        interval = self.settings.delivery.reminder_interval_seconds
        if interval <= 0:
            return
        now = self.clock()
        for incident in self.store.incidents.unacknowledged("critical"):
            n = int((now - incident.opened_at) // interval)
            if n < 1 or not self.store.incidents.count_reminder(incident.alert_id, n):
                continue
            targets = [Target(c, r) for c, r in self.store.incidents.carriers(incident.alert_id)]
            self._follow_up(incident, targets, f"remind-{n}", f"still firing (reminder {n})", now)

    def _follow_up(
        self, incident: OpenIncident, targets: list[Target], purpose: str, note: str, now: float
    ) -> None:
        """Queue one more message about a firing incident to each target."""
        self.store.outbox.enqueue(
            [
                delivery_row(incident.alert_id, incident.event_id, "firing", t, purpose, now, note)
                for t in targets
            ]
        )

    def check_watchdog(self) -> None:
        """Raise (or resolve) our own critical alert when the heartbeat stops (or returns)."""
        cfg = self.settings.watchdog
        if not cfg.enabled:
            return
        last = self.store.outbox.last_heartbeat(cfg.alertname)
        if last is None:
            return  # armed by the first heartbeat
        self.metrics.last_watchdog.set(last)
        now = self.clock()
        silent = now - last > cfg.timeout_seconds
        fingerprint = f"pipeline-{cfg.alertname}"[:64]
        # Our own alarm only, not every firing alert: this runs every pass.
        raised = self.store.list_alerts(status="firing", limit=1, fingerprint=fingerprint)
        since = datetime.fromtimestamp(last, UTC).isoformat()
        if silent and not raised:
            self._record(fingerprint, "firing", since, since, now)
            self.metrics.escalations.labels("watchdog_silent").inc()
        elif not silent and raised:
            self._record(fingerprint, "resolved", raised[0].starts_at, since, now)

    def _record(self, fingerprint: str, status: str, starts: str, since: str, now: float) -> None:
        cfg = self.settings.watchdog
        alert = {
            "status": status,
            "labels": {
                "alertname": PIPELINE_BROKEN,
                "severity": OWN_ALERTS[PIPELINE_BROKEN],
                "service": "alerting",
            },
            "annotations": {
                "summary": f"No {cfg.alertname} heartbeat since {since}; alerts may be lost",
                "description": "Prometheus, Alertmanager or the path to us is broken.",
                "runbook_url": runbook_url(self.settings, PIPELINE_BROKEN),
            },
            "startsAt": starts,
            "endsAt": "0001-01-01T00:00:00Z"
            if status == "firing"
            else datetime.fromtimestamp(now, UTC).isoformat(),
            "fingerprint": fingerprint,
        }
        body = {
            "version": "4", "groupKey": "alert_webhook/watchdog", "status": status,
            "receiver": "alert_webhook", "alerts": [alert],
        }  # fmt: skip
        raw = json.dumps(body).encode()
        result = self.store.record_notification(parse_notification(raw), raw, now, self.planner)
        self.metrics.count_stored(result.stored_deliveries, 0.0)
        logger.error("watchdog %s: %s", cfg.alertname, "silent" if status == "firing" else "back")
