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
from functools import partial
from typing import Any, Protocol

from alert_webhook.alertmanager_api import rfc3339
from alert_webhook.metrics import WebhookMetrics
from alert_webhook.notify_settings import ChannelsSettings, WatchdogSettings
from alert_webhook.payload import Notification
from alert_webhook.remediation.actions import Boundaries, Outcome
from alert_webhook.remediation.actions.failover_switch import Failover
from alert_webhook.routing import Target, recipients_for
from alert_webhook.store import NewDelivery, Purpose, SqlStore, StoreUnavailable
from alert_webhook.store.firing import OWN_GROUP_KEY_PREFIX
from alert_webhook.store.incidents import Incidents, OpenIncident

logger = logging.getLogger("alert_webhook.duties")
PIPELINE_BROKEN = "AlertingPipelineBroken"
# The alerts the webhook raises itself, by severity; each has its runbook at
# <links.runbook_base_url>/<alertname>.md, like the rules' alerts.
OWN_ALERTS: dict[str, str] = {PIPELINE_BROKEN: "critical"}
TIER2_CHANNELS = ("sms", "email")
Duty = tuple[str, Callable[[], None]]
Accept = Callable[[Notification, bytes, float], object]


def runbook_url(base_url: str, alertname: str) -> str:
    return f"{base_url.rstrip('/')}/{alertname}.md"


def own_notification(group: str, status: str, alert: dict[str, Any]) -> Notification:
    """A notification the webhook makes itself about one alert, shaped as
    Alertmanager's: it is recorded and delivered as theirs are. Its group key
    marks it as ours (`store/firing.py`): the reconcile duty never checks an
    alert of ours against Alertmanager."""
    return Notification.model_validate(
        {"version": "4", "groupKey": f"{OWN_GROUP_KEY_PREFIX}{group}", "status": status,
         "receiver": "alert_webhook", "alerts": [{"status": status, **alert}]}
    )  # fmt: skip


class HeldFiring(Protocol):
    """An alert instance the store holds as firing, as much as its resolution needs."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def starts_at(self) -> str: ...
    @property
    def generator_url(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def annotations(self) -> dict[str, str]: ...


def record_resolved(accept: Accept, group: str, alert: HeldFiring, now: float) -> None:
    """Record `alert` resolved now, as Alertmanager's resolved notification would:
    its state change, messages and metrics follow, and Alertmanager's own, when it
    comes, changes nothing."""
    notification = own_notification(group, "resolved", {
        "labels": alert.labels, "annotations": alert.annotations,
        "startsAt": alert.starts_at, "endsAt": rfc3339(now),
        "generatorURL": alert.generator_url, "fingerprint": alert.fingerprint,
    })  # fmt: skip
    accept(notification, notification.model_dump_json().encode(), now)


class Duties:
    def __init__(self, duties: Sequence[Duty]) -> None:
        self.duties = list(duties)

    def run_once(self) -> int:
        for name, duty in self.duties:
            try:
                duty()
            except StoreUnavailable as exc:
                logger.warning("%s: store unavailable; waits: %s", name, exc)
            except Exception:
                logger.exception("%s failed; the other duties go on", name)
        return 0


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
    """

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

    def __call__(self) -> None:
        if not self.settings.enabled:
            return
        last = self.store.last_heartbeat(self.settings.alertname)
        if last is None:
            return  # armed by the first heartbeat
        self.metrics.last_watchdog.set(last)
        now = self.clock()
        timeout = self.settings.timeout_seconds
        silent = now - max(last, self.started_at) > timeout
        heard = now - last <= timeout
        # Our own alarm only, not every firing alert: this runs every pass.
        raised = self.store.list_alerts(status="firing", limit=1, fingerprint=self.fingerprint)
        since = datetime.fromtimestamp(last, UTC).isoformat()
        if silent and not raised:
            self._raise("firing", since, since, now)
            self.metrics.escalations.labels("watchdog_silent").inc()
        elif heard and raised:
            self._raise("resolved", raised[0].starts_at, since, now)

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


class FailoverSwitchBack:
    """A service failed over goes back to its primary once the primary has passed
    every health check for the service's `switch_back_after`, through the same
    mechanism, recorded the same way. Each service is checked every
    `check_interval`; the record of how long the primary has been healthy is in
    the store, so a failure seen by any replica starts the wait again."""

    def __init__(self, failover: Failover, boundaries: Boundaries, clock: Callable[[], float]):
        self.failover, self.boundaries, self.clock = failover, boundaries, clock
        self._next_check: dict[str, float] = {}

    def __call__(self) -> None:
        for name, service in self.failover.settings.services.items():
            now = self.clock()
            if service.switch_back_after is None or now < self._next_check.get(name, now):
                continue
            self._next_check[name] = now + service.check_interval
            done = self.failover.switch_back_if_due(name, service, self.boundaries)
            if done is not None and done.outcome is Outcome.SUCCEEDED:
                logger.warning("failover %s: switched back to %s", name, service.primary.name)
            elif done is not None:
                logger.error("failover %s: switching back failed: %s", name, done.detail)
