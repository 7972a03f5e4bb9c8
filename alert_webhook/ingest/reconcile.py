"""Resolutions read from Alertmanager instead of waited for.

Alertmanager sends a group's resolved notification only at the group's next
`group_interval` (5 and 10 minutes on the shipped high and medium routes), so
the console would show an alert firing minutes after Prometheus cleared it; and
a store restored from a snapshot holds alerts that resolved after the snapshot,
whose resolution Alertmanager already sent and never sends again. So, every
`reconcile.interval_seconds` and once at start-up, the webhook compares the
alert instances it holds as firing (those Alertmanager told it of: never its own,
such as AlertingPipelineBroken; nor one an operator's silence holds, which the
silence watch of `incidents/silences.py` looks after, expiring the silence with
the resolution) with Alertmanager's current alerts
(`GET /api/v2/alerts`, silenced and inhibited ones included). An instance
Alertmanager no longer has active is recorded resolved through the same intake
as Alertmanager's notifications: the state change, the resolved messages where
the firing ones went, the incident's close and the metrics all follow, and
Alertmanager's own resolved notification, when it comes, finds the resolution
there and changes nothing. Replicas all reconciling record it once: the resolved
state change is unique in the store.

An instance is the fingerprint and `startsAt` (as for the silence watch; to the
millisecond, as Alertmanager's API lists it, while its notifications carry
every digit it was sent): when Alertmanager holds the same labels with another
start, the instance the webhook knows ended and a new one began, which
Alertmanager will notify by itself.

Resolving an alert that still fires would be worse than a late resolution (the
store never turns a resolved instance back to firing), so absence counts only
when it can be trusted:

- **Alertmanager warmed up.** Alertmanager keeps its active alerts in memory: just
  after a restart it lists none until Prometheus sends them again, which
  Prometheus does for every firing alert each `--rules.alert.resend-delay` (1 min
  by default) at its next evaluation. A send before Prometheus has found
  Alertmanager (just after its own start) is lost, and `make up` starts
  Prometheus up to a minute after Alertmanager (once the others answer). So
  nothing is resolved while Alertmanager's start (`uptime` of
  `GET /api/v2/status`) is less than `reconcile.alertmanager_warmup_seconds` ago
  (default 180 s: a minute's start-up, a lost first send, the resend delay, a
  15 s evaluation interval, and a margin). The store is read before
  Alertmanager lists its alerts, and the start time is asked again after the
  list, so an alert Alertmanager sent us before a restart is never judged by the
  empty list after it. While Alertmanager is away or warming up, the store is
  not read at all: a pass runs beside ingest, and reading thousands of firing
  alerts every 10 s for nothing cost a 100-alert notification half again its
  CPU (`bench/webhook_ingest.py`). Only the keys are read; an alert is read
  whole when it is resolved.
- **Absent twice.** An instance must be missing from two answers at least
  `interval_seconds` apart (one odd answer — a peer that just joined behind a
  load balancer, a proxy's empty page that parses — resolves nothing). With the
  default 10 s, a resolution reaches the store 10–20 s after it reaches
  Alertmanager, which is one Prometheus evaluation after the condition cleared.
- **Failures change nothing.** An unreachable Alertmanager, an error, or an answer
  that is not a list of alerts is logged (once per outage) and forgets what the
  earlier passes saw: the next good answers start over.

`links.alertmanager_url` must be an Alertmanager that Prometheus sends its alerts
to (each peer of a cluster receives them all from Prometheus; alerts are not
gossiped between peers), or every alert would look resolved there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pydantic import Field

from alert_webhook.clients.alertmanager import AlertmanagerAPI, AlertmanagerError, to_millisecond
from alert_webhook.db.transactions import Transactions
from alert_webhook.ingest.firing import FiringAlert, FiringRef, firing_from_alertmanager, whole
from alert_webhook.ingest.own import Accept, record_resolved
from alert_webhook.text import one_line
from toolkit.config import Strict

logger = logging.getLogger("alert_webhook.reconcile")
Instance = tuple[str, datetime]  # fingerprint, startsAt


class ReconcileSettings(Strict):
    """The alerts held as firing checked against Alertmanager's current alerts, so
    a resolution does not wait for the route's next group_interval
    (this module's docstring says why each value)."""

    enabled: bool = True
    # How often Alertmanager is asked; an alert missing from two answers this far
    # apart is recorded resolved.
    interval_seconds: float = Field(default=10.0, gt=0)
    # Nothing is resolved while Alertmanager started less than this long ago: it
    # holds only what Prometheus has sent again since (every resend delay, 1 min,
    # and Prometheus may start a minute after it).
    alertmanager_warmup_seconds: float = Field(default=180.0, ge=0)


def _instance(alert: FiringRef) -> Instance:
    return alert.fingerprint, to_millisecond(datetime.fromisoformat(alert.starts_at))


class Reconcile:
    """The loop's step: one look at Alertmanager; returns how many instances it
    recorded resolved."""

    def __init__(
        self,
        settings: ReconcileSettings,
        tx: Transactions,
        api: AlertmanagerAPI,
        accept: Accept,
        clock: Callable[[], float],
    ) -> None:
        self.settings, self.tx, self.api, self.accept, self.clock = (
            settings, tx, api, accept, clock,
        )  # fmt: skip
        # When each instance was first seen missing, in the current run of good answers.
        self._missing_since: dict[Instance, float] = {}
        self._failing = False

    def run_once(self) -> int:
        if not self.settings.enabled:
            return 0
        now = self.clock()
        try:
            # Away or warming up: nothing to judge, so the store is not read either
            # (a pass runs beside ingest, and thousands of alerts may be firing).
            if self._warming_up(self.api.started_at(), now):
                return 0
            held = firing_from_alertmanager(self.tx, now)  # before Alertmanager lists
            if not held:
                self._missing_since.clear()
                return 0
            listed = self.api.list_alerts()
            started = self.api.started_at()  # after the list: a restart since shows
        except AlertmanagerError as exc:
            self._missing_since.clear()
            if not self._failing:
                logger.warning("reconcile: nothing changed, Alertmanager failed: %s", exc)
            self._failing = True
            return 0
        if self._failing:
            logger.info("reconcile: Alertmanager answers again")
            self._failing = False
        if self._warming_up(started, now):
            return 0
        active = {(alert.fingerprint, to_millisecond(alert.starts_at)) for alert in listed}
        missing = [alert for alert in held if _instance(alert) not in active]
        since = {key: self._missing_since.get(key, now) for key in map(_instance, missing)}
        self._missing_since = since
        due = [a for a in missing if now - since[_instance(a)] >= self.settings.interval_seconds]
        for alert in whole(self.tx, due):
            self._resolved(alert, now)
            del self._missing_since[_instance(alert)]
        return len(due)

    def _warming_up(self, started: datetime, now: float) -> bool:
        """Alertmanager started less than the warm-up ago: Prometheus has not
        necessarily sent it every firing alert again yet."""
        if now - started.timestamp() < self.settings.alertmanager_warmup_seconds:
            self._missing_since.clear()
            return True
        return False

    def _resolved(self, alert: FiringAlert, now: float) -> None:
        record_resolved(self.accept, "reconcile", alert, now)
        logger.info(
            "alert %d (%s) is no longer active in Alertmanager: recorded resolved",
            alert.alert_id, one_line(alert.labels.get("alertname", "")),
        )  # fmt: skip
