"""The incident console's read model: alerts grouped one incident per failing
service, root alert first, firing above resolved (portable SQL, read-only).

Grouping and ordering live here rather than in the template so the page, the
live update and the benchmark all see the same console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from alert_webhook.store.guard import Transactions
from alert_webhook.store.schema import alerts, incidents

# Lower is more severe; an unknown severity sorts after every known one.
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# Alertmanager's inhibit rules let these mute the other alerts of their service
# (alertmanager/alertmanager.yml): they are the root even when less severe.
INHIBITING_ALERTS = frozenset({"ServiceUnavailable", "TargetDown"})


@dataclass(frozen=True)
class ConsoleAlert:
    """One alert of an incident, with its incident row when it has one."""

    alert_id: int
    alertname: str
    severity: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    received_at: float
    deadline_at: float | None
    acked_at: float | None
    acked_by: str | None
    closed_at: float | None

    @property
    def rank(self) -> tuple[int, int, float]:
        """Sort key for "which alert is the root": an inhibiting alert, then the
        most severe, then the oldest."""
        inhibits = 0 if self.alertname in INHIBITING_ALERTS else 1
        return inhibits, SEVERITY_RANK.get(self.severity, len(SEVERITY_RANK)), self.received_at


@dataclass(frozen=True)
class ServiceIncident:
    """Every alert about one service; the first is the root."""

    service: str
    alerts: list[ConsoleAlert] = field(default_factory=list)

    @property
    def root(self) -> ConsoleAlert:
        return self.alerts[0]

    @property
    def firing(self) -> bool:
        return any(a.status == "firing" for a in self.alerts)

    @property
    def started_at(self) -> float:
        return min(a.received_at for a in self.alerts)

    @property
    def resolved_at(self) -> float | None:
        """When the last alert closed; None while any still fires."""
        if self.firing:
            return None
        return max((a.closed_at or a.received_at) for a in self.alerts)

    @property
    def instance(self) -> str:
        """The service's target: probes label it `instance` (the exporter's own
        address is never the alert's instance)."""
        return self.root.labels.get("instance", "")


def service_of(labels: dict[str, str]) -> str:
    """Rules put the failing service in `service`; scrape alerts only have `job`."""
    return labels.get("service") or labels.get("job") or labels.get("alertname", "")


def group(rows: list[ConsoleAlert]) -> list[ServiceIncident]:
    """One incident per service, root first; firing incidents by the root's
    severity then age (oldest first), resolved ones below, newest first."""
    by_service: dict[str, list[ConsoleAlert]] = {}
    for row in rows:
        by_service.setdefault(service_of(row.labels), []).append(row)
    grouped = [
        ServiceIncident(service, sorted(members, key=lambda a: a.rank))
        for service, members in by_service.items()
    ]
    firing = sorted(
        (i for i in grouped if i.firing),
        key=lambda i: (SEVERITY_RANK.get(i.root.severity, len(SEVERITY_RANK)), i.started_at),
    )
    resolved = sorted((i for i in grouped if not i.firing), key=lambda i: -(i.resolved_at or 0))
    return firing + resolved


class Console:
    def __init__(self, tx: Transactions) -> None:
        self.tx = tx

    def incidents(self, limit: int = 2000) -> list[ServiceIncident]:
        """The newest `limit` alerts, grouped."""
        query = (
            select(
                alerts.c.id,
                alerts.c.alertname,
                alerts.c.severity,
                alerts.c.status,
                alerts.c.labels,
                alerts.c.annotations,
                alerts.c.first_received_at,
                incidents.c.deadline_at,
                incidents.c.acked_at,
                incidents.c.acked_by,
                incidents.c.closed_at,
            )
            .outerjoin(incidents, incidents.c.alert_id == alerts.c.id)
            .order_by(alerts.c.id.desc())
            .limit(limit)
        )
        with self.tx.read() as conn:
            rows = [
                ConsoleAlert(
                    r.id,
                    r.alertname,
                    r.severity,
                    r.status,
                    json.loads(r.labels),
                    json.loads(r.annotations),
                    r.first_received_at,
                    r.deadline_at,
                    r.acked_at,
                    r.acked_by,
                    r.closed_at,
                )
                for r in conn.execute(query)
            ]
        return group(rows)
