"""The incident console's read model: a failing service's alerts grouped into
incidents, one per episode, headline alert first, firing above resolved
(portable SQL, read-only).

An *episode* of a service begins when one of its alerts fires while none of
its others is open, and ends when the last of them closes (resolved, or closed
by an operator's hand): a later failure of that service is a new incident, with
its own age. Episodes are read from the alerts' own times (each alert's incident
row says when it closed), not stored: every alert keeps its own incident row —
its deadline, acknowledgement and escalation — as `/api/incidents` lists them.

Grouping and ordering live here rather than in the template so the page, the
live update and the benchmark all see the same console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Float, Integer, Table, bindparam, func, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from alert_webhook.db.schema import (
    UNSETTLED,
    alerts,
    deliveries,
    fleet_pauses,
    incidents,
    remediation_runs,
    remediation_steps,
)
from alert_webhook.db.transactions import Transactions
from alert_webhook.delivery.settings import SEVERITIES
from alert_webhook.incidents.grouping import service_of

# Lower is more severe (the settings' order of severities); an unknown severity
# sorts after every known one.
SEVERITY_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# Alertmanager's inhibit rules let these mute the other alerts of their service
# (alertmanager/alertmanager.yml): of two firing alerts as severe, they are the headline.
INHIBITING_ALERTS = frozenset({"ServiceUnavailable", "TargetDown"})
# The console shows the newest this many alerts; its change token reads the same.
WINDOW = 2000
# Of each headline alert, the page shows at most this many deliveries, the newest.
DELIVERIES_PER_HEADLINE = 20
# The health panel's "recent": failures among this many newest deliveries.
RECENT_DELIVERIES = 1000
FAILURES_PER_CHANNEL = 3


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
class ConsoleView:
    """What the console shows, read in one transaction: the incidents, and by
    alert id its remediation runs (oldest first, each with its `steps`) and its
    deliveries by state (`tallies`). The deliveries themselves are read for headline
    alerts only, the newest `DELIVERIES_PER_HEADLINE`, oldest first: the other alerts
    of a service mostly reached nobody (the inhibit rules mute them), and reading
    every delivery of a thousand alerts would cost the page its speed."""

    incidents: list[ServiceIncident]
    runs: dict[int, list[dict[str, Any]]]
    deliveries: dict[int, list[dict[str, Any]]]
    tallies: dict[int, dict[str, int]]
    # By channel: its failed attempts among the newest `RECENT_DELIVERIES`
    # deliveries, newest first (at most `FAILURES_PER_CHANNEL`), and how many.
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failure_counts: dict[str, int] = field(default_factory=dict)

    def delivery_count(self, alert_id: int) -> int:
        return sum(self.tallies.get(alert_id, {}).values())


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


def group(rows: list[ConsoleAlert]) -> list[ServiceIncident]:
    """One incident per episode of each service, headline first; firing incidents
    by the headline's severity then age (oldest first), resolved ones below,
    newest first."""
    by_service: dict[str, list[ConsoleAlert]] = {}
    for row in rows:
        by_service.setdefault(service_of(row.labels), []).append(row)
    grouped = [
        ServiceIncident(service, sorted(episode, key=lambda a: a.rank))
        for service, members in by_service.items()
        for episode in episodes(members)
    ]
    firing = sorted(
        (i for i in grouped if i.firing),
        key=lambda i: (SEVERITY_RANK.get(i.headline.severity, len(SEVERITY_RANK)), i.started_at),
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

    def read(self, limit: int = WINDOW) -> ConsoleView:
        """The newest `limit` alerts grouped, with their remediation runs and the
        newest deliveries of each, in one transaction (one moment's console)."""
        with self.tx.read() as conn:
            rows = [_alert(r) for r in conn.execute(_alerts_query(limit))]
            oldest = min((a.alert_id for a in rows), default=0)
            grouped = group(rows)
            runs = _runs(conn, oldest)
            sent = _headline_deliveries(conn, [i.headline.alert_id for i in grouped])
            tallies: dict[int, dict[str, int]] = {}
            for alert_id, status, count in conn.execute(_TALLIES, {"oldest": oldest}):
                tallies.setdefault(alert_id, {})[status] = count
            failures: dict[str, list[dict[str, Any]]] = {}
            counts: dict[str, int] = {}
            for f in conn.execute(_FAILURES).mappings():
                counts[f["channel"]] = counts.get(f["channel"], 0) + 1
                if counts[f["channel"]] <= FAILURES_PER_CHANNEL:
                    failures.setdefault(f["channel"], []).append(dict(f))
        return ConsoleView(grouped, runs, sent, tallies, failures, counts)


# The incident's columns, whichever the table has: read with each alert.
_INCIDENT_COLUMNS = [c for c in incidents.c if c.name != "alert_id"]


def _alerts_query(limit: int) -> Any:
    return (
        select(
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
        )
        .outerjoin(incidents, incidents.c.alert_id == alerts.c.id)
        .order_by(alerts.c.id.desc())
        .limit(limit)
    )


def _alert(r: Any) -> ConsoleAlert:
    """A row of `_alerts_query`, by position: the names repeat between the tables."""
    incident = {}
    if r[9] is not None:
        incident = {c.name: value for c, value in zip(_INCIDENT_COLUMNS, r[10:], strict=True)}
    labels, annotations = json.loads(r[4]), json.loads(r[5])
    return ConsoleAlert(r[0], r[1], r[2], r[3], labels, annotations, r[6], r[7], r[8], incident)


def _runs(conn: Connection, oldest: int) -> dict[int, list[dict[str, Any]]]:
    """The runs of the alerts from `oldest` on, oldest first, each with its steps."""
    runs, steps = remediation_runs, remediation_steps
    found = [
        dict(r)
        for r in conn.execute(
            select(runs).where(runs.c.alert_id >= oldest).order_by(runs.c.id)
        ).mappings()
    ]
    by_run: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in found}
    if by_run:
        of_window = select(runs.c.id).where(runs.c.alert_id >= oldest)
        query = select(steps).where(steps.c.run_id.in_(of_window)).order_by(steps.c.step)
        for step in conn.execute(query).mappings():
            by_run[step["run_id"]].append(dict(step))
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for run in found:
        run["steps"] = by_run[run["id"]]
        by_alert.setdefault(run["alert_id"], []).append(run)
    return by_alert


_SHOWN = select(
    *(deliveries.c[name] for name in (
        "id", "alert_id", "event_status", "channel", "recipient", "purpose", "status",
        "attempts", "provider", "note", "last_error", "received_at", "finished_at",
    ))
).order_by(deliveries.c.id)  # fmt: skip
_TALLIES = (
    select(deliveries.c.alert_id, deliveries.c.status, func.count())
    .where(deliveries.c.alert_id >= bindparam("oldest"))
    .group_by(deliveries.c.alert_id, deliveries.c.status)
)

# Deliveries that failed at least once (a provider's error is kept with them),
# among the newest ones, through the primary key.
_FAILURES = (
    select(
        deliveries.c.id, deliveries.c.channel, deliveries.c.status, deliveries.c.last_error,
        func.coalesce(deliveries.c.finished_at, deliveries.c.received_at).label("at"),
    )
    .where(
        deliveries.c.id > select(func.max(deliveries.c.id)).scalar_subquery() - RECENT_DELIVERIES,
        deliveries.c.last_error.is_not(None),
    )
    .order_by(deliveries.c.id.desc())
)  # fmt: skip


def _headline_deliveries(conn: Connection, headlines: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The newest `DELIVERIES_PER_HEADLINE` deliveries of each headline alert, oldest first."""
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for batch in range(0, len(headlines), 500):  # bounded IN lists
        chunk = headlines[batch : batch + 500]
        result = conn.execute(_SHOWN.where(deliveries.c.alert_id.in_(chunk)))
        keys = list(result.keys())
        for row in result:
            by_alert.setdefault(row[1], []).append(dict(zip(keys, row, strict=True)))
    return {alert_id: rows[-DELIVERIES_PER_HEADLINE:] for alert_id, rows in by_alert.items()}


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
        # Only deliveries that may still change: a final one is never written again.
        _fingerprint(deliveries, UNSETTLED),
        select(func.max(deliveries.c.id)).subquery(),
        # The fleet breaker's pauses: a handful of rows, shown whole.
        _fingerprint(fleet_pauses),
    ]
    # Each part is one row: joined on nothing, they are one row of every aggregate.
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, true())
    return select(*(c for part in parts for c in part.c)).select_from(joined)


_TOKEN = _change_token()
