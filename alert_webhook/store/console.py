"""The incident console's read model: alerts grouped one incident per failing
service, root alert first, firing above resolved (portable SQL, read-only).

Grouping and ordering live here rather than in the template so the page, the
live update and the benchmark all see the same console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, Integer, Table, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from alert_webhook.store.guard import Transactions
from alert_webhook.store.rows import DeliveryStatus
from alert_webhook.store.schema import (
    alerts,
    deliveries,
    incidents,
    remediation_runs,
    remediation_steps,
)

# Lower is more severe; an unknown severity sorts after every known one.
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# Alertmanager's inhibit rules let these mute the other alerts of their service
# (alertmanager/alertmanager.yml): they are the root even when less severe.
INHIBITING_ALERTS = frozenset({"ServiceUnavailable", "TargetDown"})
# The console shows the newest this many alerts; its change token reads the same.
WINDOW = 2000
# Deliveries that may still change: a final one is never written again.
UNSETTLED = [s.value for s in DeliveryStatus if not s.final]


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

    def change_token(self) -> tuple[Any, ...]:
        """What the console shows changes only when this does: one query of
        aggregates over the rows it reads, through their indexes, so an unchanged
        console's live update costs this instead of a render. A final delivery is
        never written again, so of deliveries only the newest id and the ones still
        unsettled are read; of every other table, each column of the window's rows
        (a column added later is counted without a change here). A change that left
        every count and sum the same would show at the next one — and the page
        renders at least once a minute for its relative times anyway."""
        with self.tx.read() as conn:
            return tuple(conn.execute(_TOKEN).one())

    def incidents(self, limit: int = WINDOW) -> list[ServiceIncident]:
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


def _fingerprint(table: Table, *where: ColumnElement[bool]) -> Any:
    """Per column of `table`'s matching rows: how many are set, and the sum of the
    values (numbers) or of their lengths (text) — one row of aggregates."""
    columns: list[ColumnElement[Any]] = [func.count()]
    for column in table.c:
        columns.append(func.count(column))
        value = column if isinstance(column.type, Integer | Float) else func.length(column)
        columns.append(func.coalesce(func.sum(value), 0))
    return select(*columns).where(*where).subquery()


def _change_token() -> Any:
    # The oldest alert of the console's window (0 while it is not full).
    oldest = func.coalesce(
        select(alerts.c.id).order_by(alerts.c.id.desc()).offset(WINDOW - 1).limit(1)
        .scalar_subquery(),
        0,
    )  # fmt: skip
    runs = remediation_runs
    window_runs = select(runs.c.id).where(runs.c.alert_id >= oldest)
    parts = [
        _fingerprint(alerts, alerts.c.id >= oldest),
        _fingerprint(incidents, incidents.c.alert_id >= oldest),
        _fingerprint(runs, runs.c.alert_id >= oldest),
        _fingerprint(remediation_steps, remediation_steps.c.run_id.in_(window_runs)),
        _fingerprint(deliveries, deliveries.c.status.in_(UNSETTLED)),
        select(func.max(deliveries.c.id)).subquery(),
    ]
    # Each part is one row: joined on nothing, they are one row of every aggregate.
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, true())
    return select(*(c for part in parts for c in part.c)).select_from(joined)


_TOKEN = _change_token()
