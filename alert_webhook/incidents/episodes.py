"""An incident as people see it: one episode of a failing service, its alerts
with the headline first (the console, the terminal and the post-incident report
read the same).

An *episode* of a service begins when one of its alerts fires while none of
its others is open, and ends when the last of them closes (resolved, or closed
by an operator's hand): a later failure of that service is a new incident, with
its own age. Episodes are read from the alerts' own times (each alert's incident
row says when it closed), not stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import select

from alert_webhook.db.schema import alerts, incidents
from alert_webhook.delivery.settings import SEVERITIES

# Lower is more severe (the settings' order of severities); an unknown severity
# sorts after every known one.
SEVERITY_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# Alertmanager's inhibit rules let these mute the other alerts of their service
# (alertmanager/alertmanager.yml): of two firing alerts as severe, they are the headline.
INHIBITING_ALERTS = frozenset({"ServiceUnavailable", "TargetDown"})


@dataclass(frozen=True)
class ConsoleAlert:
    """One alert of an incident, with its incident row when it has one (every
    column of it, so columns added to incidents later reach the page as well)."""

    alert_id: int
    alertname: str
    severity: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    received_at: float
    starts_at: str = ""
    generator_url: str = ""
    incident: dict[str, Any] = field(default_factory=dict)

    @property
    def deadline_at(self) -> float | None:
        return self.incident.get("deadline_at")

    @property
    def acked_at(self) -> float | None:
        return self.incident.get("acked_at")

    @property
    def acked_by(self) -> str | None:
        return self.incident.get("acked_by")

    @property
    def closed_at(self) -> float | None:
        return self.incident.get("closed_at")

    @cached_property
    def open(self) -> bool:
        """Firing, and not closed by an operator's hand (resolved as handled)."""
        return self.status == "firing" and self.closed_at is None

    @property
    def ended_at(self) -> float:
        """When it stopped taking part in its episode: closed (resolved, or by hand),
        or, for an alert only ever seen resolved, when it was received."""
        return self.closed_at if self.closed_at is not None else self.received_at

    @property
    def rank(self) -> tuple[int, int, int, float]:
        """Sort key for "which alert is the headline": a firing one, the most severe
        of those, one the inhibit rules let mute the others, then the oldest."""
        inhibits = 0 if self.alertname in INHIBITING_ALERTS else 1
        severity = SEVERITY_RANK.get(self.severity, len(SEVERITY_RANK))
        return 0 if self.open else 1, severity, inhibits, self.received_at


@dataclass(frozen=True)
class ServiceIncident:
    """One episode of a failing service: its alerts, the headline first. What is
    derived from them is worked out once: the page asks for it many times."""

    service: str
    alerts: list[ConsoleAlert] = field(default_factory=list)

    @property
    def headline(self) -> ConsoleAlert:
        return self.alerts[0]

    @cached_property
    def id(self) -> int:
        """The alert that opened the episode: the incident's stable id on the page
        (the headline changes as alerts fire and resolve)."""
        return min(self.alerts, key=lambda a: (a.received_at, a.alert_id)).alert_id

    @cached_property
    def firing(self) -> bool:
        return any(a.open for a in self.alerts)

    @cached_property
    def open_alerts(self) -> list[ConsoleAlert]:
        return [a for a in self.alerts if a.open]

    @cached_property
    def unacknowledged(self) -> list[ConsoleAlert]:
        """The open alerts nobody acknowledged: an acknowledgement covers the alerts
        it named, so one that fired since is among these."""
        return [a for a in self.alerts if a.open and a.acked_at is None]

    @cached_property
    def state(self) -> str:
        """firing (someone must answer), acknowledged (every open alert was), resolved."""
        if not self.firing:
            return "resolved"
        return "firing" if self.unacknowledged else "acknowledged"

    @cached_property
    def started_at(self) -> float:
        return min(a.received_at for a in self.alerts)

    @property
    def resolved_at(self) -> float | None:
        """When the last alert closed; None while any still fires."""
        if self.firing:
            return None
        return max(a.ended_at for a in self.alerts)

    @cached_property
    def flapping(self) -> str | None:
        """The flapping marker: what the newest of its alerts that took part in a
        flapping episode says of it ("flapping: 5 changes in 30 min", then
        "stopped flapping: …"); None when none did."""
        marked = [a for a in self.alerts if a.incident.get("flapping")]
        if not marked:
            return None
        return max(marked, key=lambda a: (a.received_at, a.alert_id)).incident["flapping"]

    @property
    def instance(self) -> str:
        """The service's target: probes label it `instance` (the exporter's own
        address is never the alert's instance)."""
        return self.headline.labels.get("instance", "")


def episodes(members: list[ConsoleAlert]) -> list[list[ConsoleAlert]]:
    """A service's alerts split into episodes: in the order they arrived, an alert
    joins the episode under way when one of its alerts was still open when it
    arrived; otherwise it opens the next one."""
    found: list[list[ConsoleAlert]] = []
    open_until: float | None = None  # when the episode under way ended; None: still open
    for alert in sorted(members, key=lambda a: (a.received_at, a.alert_id)):
        if not found or (open_until is not None and alert.received_at > open_until):
            found.append([alert])
            open_until = None if alert.open else alert.ended_at
            continue
        found[-1].append(alert)
        if alert.open:
            open_until = None
        elif open_until is not None:
            open_until = max(open_until, alert.ended_at)
    return found


# The incident's columns, whichever the table has: read with each alert.
_INCIDENT_COLUMNS = [c for c in incidents.c if c.name != "alert_id"]
# Alerts with their incident rows, as `episode_alert` reads them; callers add
# their own WHERE, ORDER BY and LIMIT.
ALERTS_WITH_INCIDENTS = select(
    alerts.c.id,
    alerts.c.alertname,
    alerts.c.severity,
    alerts.c.status,
    alerts.c.labels,
    alerts.c.annotations,
    alerts.c.first_received_at,
    alerts.c.starts_at,
    alerts.c.generator_url,
    incidents.c.alert_id,
    *_INCIDENT_COLUMNS,
).outerjoin(incidents, incidents.c.alert_id == alerts.c.id)


def episode_alert(r: Any) -> ConsoleAlert:
    """A row of `ALERTS_WITH_INCIDENTS`, by position: the names repeat between the tables."""
    incident = {}
    if r[9] is not None:
        incident = {c.name: value for c, value in zip(_INCIDENT_COLUMNS, r[10:], strict=True)}
    labels, annotations = json.loads(r[4]), json.loads(r[5])
    return ConsoleAlert(r[0], r[1], r[2], r[3], labels, annotations, r[6], r[7], r[8], incident)
