"""Time-driven duties beside the outbox: deadlines, reminders, the watchdog
heartbeat, switching failed-over services back to their primary.

`Duties` runs a list of them, each pass in order; one that fails is logged and
the others still run. Each writes deliveries through the same unique constraint
as ingest, and decides "this replica does it" with a guarded UPDATE in the same
transaction, so when replicas all run them, people still hear each thing once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.delivery.settings import WatchdogSettings
from alert_webhook.ingest.own import (
    OWN_ALERTS,
    PIPELINE_BROKEN,
    Accept,
    own_notification,
    runbook_url,
)
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.store import SqlStore

logger = logging.getLogger("alert_webhook.duties")
Duty = tuple[str, Callable[[], None]]


class Duties:
    def __init__(self, duties: Sequence[Duty]) -> None:
        self.duties = list(duties)

    def run_once(self) -> int:
        for name, duty in self.duties:
            try:
                duty()
            except StoreUnavailable as exc:
                # Said once per outage, with a count, by the store (db/outage.py).
                logger.debug("%s waits for the store: %s", name, exc)
            except Exception:
                logger.exception("%s failed; the other duties go on", name)
        return 0


class Watchdog:
    """Raise (or resolve) our own critical alert when the heartbeat stops (or returns).

    Silence is measured from the later of the last heartbeat and this process's
    start (when the watchdog is built). While the webhook was not running nobody
    was listening, so a store whose last heartbeat is an hour old says the stack
    was down, not that its pipeline is broken now: after a start, Prometheus and
    Alertmanager get the same `timeout_seconds` as any silence to be heard from
    (the first heartbeat reaches us within about a minute of Prometheus's
    start: its first send may precede its finding Alertmanager, and it resends
    every minute). If nothing arrives in that time the alarm is raised,
    dated from the last heartbeat, when the silence really began. Only a real
    heartbeat resolves an alarm, never a start: an alarm still up from before a
    pause waits for the pipeline to prove itself.

    It runs every pass of the duties loop (each second) but reads the store only
    when something can have changed for it (issue 27, idle cost: its two reads
    a second topped an idle webhook's profile): every `timeout_seconds / 30`
    (10 s by default) while the heartbeat is heard and no alarm is up, and at
    the exact moment the silence would pass the timeout, so the alarm is raised
    no later than before. A heartbeat can only push that moment later, so
    skipping reads never misses one. While the alarm is up it reads every pass;
    the gauge of the last heartbeat and another replica's alarm are seen within
    the same `timeout_seconds / 30`.
    """

    CHECKS_PER_TIMEOUT = 30

    def __init__(
        self,
        settings: WatchdogSettings,
        runbook_base_url: str,
        store: SqlStore,
        accept: Accept,
        metrics: WebhookMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.settings, self.runbook_base_url = settings, runbook_base_url
        self.store, self.accept, self.metrics, self.clock = store, accept, metrics, clock
        self.fingerprint = f"pipeline-{settings.alertname}"[:64]
        self.started_at = clock()
        self.next_read = self.started_at  # the first pass reads

    def __call__(self) -> None:
        if not self.settings.enabled:
            return
        now = self.clock()
        if now < self.next_read:
            return
        timeout = self.settings.timeout_seconds
        every = timeout / self.CHECKS_PER_TIMEOUT
        last = self.store.last_heartbeat(self.settings.alertname)
        if last is None:
            # Armed by the first heartbeat; its silence is counted from its own
            # time, so finding it up to `every` late raises nothing later.
            self.next_read = now + every
            return
        self.metrics.last_watchdog.set(last)
        silent = now - max(last, self.started_at) > timeout
        heard = now - last <= timeout
        # Our own alarm only, not every firing alert.
        raised = self.store.list_alerts(status="firing", limit=1, fingerprint=self.fingerprint)
        since = datetime.fromtimestamp(last, UTC).isoformat()
        alarm_up = bool(raised)
        if silent and not raised:
            self._raise("firing", since, since, now)
            self.metrics.escalations.labels("watchdog_silent").inc()
            alarm_up = True
        elif heard and raised:
            self._raise("resolved", raised[0].starts_at, since, now)
            alarm_up = False
        if alarm_up or silent:
            self.next_read = now  # up (or being raised by another replica): every pass
        else:
            # Silent from the first instant past this moment, not later.
            self.next_read = min(now + every, max(last, self.started_at) + timeout)

    def _raise(self, status: str, starts: str, since: str, now: float) -> None:
        heartbeat = self.settings.alertname
        ends = (
            datetime.fromtimestamp(now, UTC).isoformat()
            if status == "resolved"
            else "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"
        )
        notification = own_notification("watchdog", status, {
            "labels": {"alertname": PIPELINE_BROKEN,
                       "severity": OWN_ALERTS[PIPELINE_BROKEN], "service": "alerting"},
            "annotations": {
                "summary": f"No {heartbeat} heartbeat since {since}; alerts may be lost",
                "description": "Prometheus, Alertmanager or the path to us is broken.",
                "runbook_url": runbook_url(self.runbook_base_url, PIPELINE_BROKEN),
            },
            "startsAt": starts, "endsAt": ends, "fingerprint": self.fingerprint,
        })  # fmt: skip
        self.accept(notification, notification.model_dump_json().encode(), now)
        logger.error("watchdog %s: %s", heartbeat, "silent" if status == "firing" else "back")
