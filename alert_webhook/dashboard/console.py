"""The incident console's read model: a failing service's alerts grouped into
incidents, one per episode (incidents/episodes.py), headline alert first,
firing above resolved (portable SQL, read-only). Every alert keeps its own
incident row — its deadline, acknowledgement and escalation — as
`/api/incidents` lists them.

Grouping and ordering live here rather than in the template so the page, the
live update and the benchmark all see the same console.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from alert_webhook.incidents.episodes import (
    ALERTS_WITH_INCIDENTS,
    SEVERITY_RANK,
    ConsoleAlert,
    ServiceIncident,
    episode_alert,
    episodes,
)
from alert_webhook.incidents.grouping import service_of
from alert_webhook.reports.report import runs_by_alert

# The console shows the newest this many alerts; its change token reads the same.
WINDOW = 2000
# Of each headline alert, the page shows at most this many deliveries, the newest.
DELIVERIES_PER_HEADLINE = 20
# The health panel's "recent": failures among this many newest deliveries.
RECENT_DELIVERIES = 1000
FAILURES_PER_CHANNEL = 3


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
            rows = [episode_alert(r) for r in conn.execute(_alerts_query(limit))]
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


def _alerts_query(limit: int) -> Any:
    return ALERTS_WITH_INCIDENTS.order_by(alerts.c.id.desc()).limit(limit)


def _runs(conn: Connection, oldest: int) -> dict[int, list[dict[str, Any]]]:
    """The runs of the alerts from `oldest` on, oldest first, each with its steps."""
    return runs_by_alert(conn, remediation_runs.c.alert_id >= oldest)


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
