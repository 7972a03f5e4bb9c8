"""The post-incident report's read model: one incident — the episode of a failing
service that an alert belongs to, as the console groups it (incidents/episodes.py)
— with every delivery of its alerts, every remediation run with its steps, and
its follow-ups, read in one transaction; and what is worked out from them: the
timeline (in the console's words, reports/timeline.py), the times to acknowledge
and to resolve, what automation did, and the links to the runbook and to a
Prometheus graph of the alert's expression over the incident's window.

The Markdown is written from it by reports/markdown.py.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnElement

from alert_webhook.db.schema import alerts, deliveries, remediation_runs, remediation_steps
from alert_webhook.db.transactions import Transactions
from alert_webhook.incidents.episodes import (
    ALERTS_WITH_INCIDENTS,
    ConsoleAlert,
    ServiceIncident,
    episode_alert,
    episodes,
)
from alert_webhook.incidents.follow_ups import FollowUp, of_incident
from alert_webhook.incidents.grouping import service_of
from alert_webhook.remediation.states import RunStatus
from alert_webhook.reports.recovery import PortableSQL
from alert_webhook.reports.timeline import (
    Entry,
    delivery_text,
    escalations,
    operator_entries,
    remediation_entries,
    run_summary,
)
from alert_webhook.text import followable

runs, steps = remediation_runs, remediation_steps
# The graph shows this much before the incident began and after it ended, or a
# tenth of its duration when that is longer.
GRAPH_MARGIN = 300.0


def runs_by_alert(conn: Connection, which: ColumnElement[bool]) -> dict[int, list[dict[str, Any]]]:
    """The runs `which` selects, by alert, oldest first, each with its `steps`."""
    found = [
        dict(r) for r in conn.execute(select(runs).where(which).order_by(runs.c.id)).mappings()
    ]
    by_run: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in found}
    if by_run:
        query = select(steps).where(steps.c.run_id.in_(select(runs.c.id).where(which)))
        for step in conn.execute(query.order_by(steps.c.step)).mappings():
            by_run[step["run_id"]].append(dict(step))
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for run in found:
        run["steps"] = by_run[run["id"]]
        by_alert.setdefault(run["alert_id"], []).append(run)
    return by_alert


@dataclass(frozen=True)
class Automation:
    """What automation did about the incident, in one of five words, and why."""

    verdict: str  # healed | failed | not_allowed | no_playbook | unfinished
    said: str


_VERDICTS = {
    "healed": "healed it",
    "failed": "tried and failed",
    "not_allowed": "was not allowed to",
    "no_playbook": "had no playbook",
    "unfinished": "was still at work when the incident closed",
    "cancelled": "was cancelled: the alert resolved first",
}
_NOT_ALLOWED = frozenset({RunStatus.BLOCKED, RunStatus.SKIPPED})


@dataclass(frozen=True)
class IncidentRecord:
    """One incident as its report tells it: its alerts (headline first), by alert
    id every delivery (oldest first) and every run with its steps, and the
    follow-ups operators added."""

    incident: ServiceIncident
    deliveries: Mapping[int, list[dict[str, Any]]]
    runs: Mapping[int, list[dict[str, Any]]]
    follow_ups: list[FollowUp]

    @property
    def id(self) -> int:
        return self.incident.id

    @property
    def closed(self) -> bool:
        return not self.incident.firing

    @property
    def all_runs(self) -> list[dict[str, Any]]:
        return sorted((r for rs in self.runs.values() for r in rs), key=lambda r: r["id"])

    def timeline(self, unconfigured: Mapping[str, str] | None = None) -> list[Entry]:
        """Every line of the record, oldest first: each alert fired, each of its
        deliveries with channel and recipient, escalations, remediation runs,
        acknowledged, silenced, handled, resolved."""
        unconfigured = unconfigured or {}
        entries: list[Entry] = []
        for alert in self.incident.alerts:
            entries.append(Entry("fired", alert.received_at, f"{alert.alertname} fired"))
            sent = self.deliveries.get(alert.alert_id, [])
            for d in sent:
                text = f"{alert.alertname}, {d['event_status']}: {delivery_text(d, unconfigured)}"
                entries.append(Entry("delivery", d["finished_at"] or d["received_at"], text))
            entries.extend(escalations(alert, sent))
            for run in self.runs.get(alert.alert_id, []):
                entries.extend(remediation_entries(run))
            entries.extend(operator_entries(alert))
        return sorted(entries, key=lambda e: e.at)

    @property
    def first_ack(self) -> ConsoleAlert | None:
        """The alert acknowledged first, if anyone acknowledged one."""
        acked = [a for a in self.incident.alerts if a.acked_at is not None]
        return min(acked, key=lambda a: a.acked_at or 0.0) if acked else None

    @property
    def time_to_acknowledge(self) -> float | None:
        first = self.first_ack
        return None if first is None else (first.acked_at or 0.0) - self.incident.started_at

    @property
    def time_to_resolve(self) -> float | None:
        ended = self.incident.resolved_at
        return None if ended is None else ended - self.incident.started_at

    @property
    def automation(self) -> Automation:
        every = self.all_runs
        if not every:
            return Automation("no_playbook", "no remediation run was planned for its alerts")
        by = {
            "healed": [r for r in every if r["status"] == RunStatus.VERIFIED],
            "failed": [r for r in every if r["started_at"] and r["status"] in _FAILED],
            "unfinished": [r for r in every if not RunStatus(r["status"]).final],
            "cancelled": [r for r in every if r["status"] == RunStatus.CANCELLED],
            "not_allowed": [r for r in every if r["status"] in _NOT_ALLOWED or not r["started_at"]],
        }
        order = ("healed", "failed", "unfinished", "cancelled", "not_allowed")
        verdict = next(v for v in order if by[v])
        return Automation(verdict, "; ".join(run_summary(r) for r in by[verdict]))

    @property
    def runbook_url(self) -> str | None:
        """The headline alert's runbook, only when it is an http(s) URL."""
        url = self.incident.headline.annotations.get("runbook_url", "")
        return url if followable(url) else None

    @property
    def graph_url(self) -> str | None:
        end = self.incident.resolved_at
        if end is None:
            return None
        return graph_url(self.incident.headline.generator_url, self.incident.started_at, end)


def verdict_words(verdict: str) -> str:
    return _VERDICTS[verdict]


_FAILED = frozenset({RunStatus.FAILED, RunStatus.INEFFECTIVE})


def graph_url(generator_url: str, start: float, end: float) -> str | None:
    """Prometheus' graph of the alert's expression (the generatorURL's `g0.expr`)
    from a little before `start` to a little after `end`; None when the
    generatorURL is not an http(s) URL or has no expression."""
    if not followable(generator_url):
        return None
    parts = urlsplit(generator_url)
    expr = parse_qs(parts.query).get("g0.expr", [""])[0]
    if not expr.strip():
        return None
    margin = max(GRAPH_MARGIN, (end - start) / 10)
    minutes = int(-(-(end - start + 2 * margin) // 60))  # whole minutes, rounded up
    until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(end + margin))
    query = urlencode({
        "g0.expr": expr, "g0.tab": "0", "g0.range_input": f"{minutes}m",
        "g0.end_input": until, "g0.moment_input": until,
    })  # fmt: skip
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/graph", query, ""))


class Reports:
    """Reads one incident's record for its report."""

    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        sql = PortableSQL(dialect)
        self._service = func.coalesce(
            func.nullif(sql.label("service"), ""), func.nullif(sql.label("job"), ""),
            sql.label("alertname"),
        )  # fmt: skip

    def record(self, alert_id: int) -> IncidentRecord | None:
        """The incident `alert_id` belongs to (any of its alerts names it), or None
        when there is no such alert."""
        with self.tx.read() as conn:
            row = conn.execute(ALERTS_WITH_INCIDENTS.where(alerts.c.id == alert_id)).first()
            if row is None:
                return None
            alert = episode_alert(row)
            service = service_of(alert.labels)
            query = ALERTS_WITH_INCIDENTS.where(self._service == service, alerts.c.id != alert_id)
            # The SQL narrows by the labels' JSON; service_of says exactly.
            members = [alert] + [
                a
                for a in map(episode_alert, conn.execute(query))
                if service_of(a.labels) == service
            ]
            mine = next(e for e in episodes(members) if alert in e)
            incident = ServiceIncident(service, sorted(mine, key=lambda a: a.rank))
            ids = [a.alert_id for a in incident.alerts]
            sent: dict[int, list[dict[str, Any]]] = {}
            query = select(deliveries).where(deliveries.c.alert_id.in_(ids))
            for d in conn.execute(query.order_by(deliveries.c.id)).mappings():
                sent.setdefault(d["alert_id"], []).append(dict(d))
            found = runs_by_alert(conn, runs.c.alert_id.in_(ids))
            notes = of_incident(conn, incident.id)
        return IncidentRecord(incident, sent, found, notes)


@dataclass(frozen=True)
class NoReport:
    """Why an incident has no report (yet): the HTTP status and the words."""

    status: int
    problem: str


def closed_record(record: IncidentRecord | None, alert_id: int) -> IncidentRecord | NoReport:
    """The record when its incident has ended; else why there is no report: no
    such alert (404), or the incident is still open (409: a report is of what
    happened, written once it is over)."""
    if record is None:
        return NoReport(404, f"no incident {alert_id}: no alert has that id")
    if not record.closed:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.incident.started_at))
        firing = len(record.incident.open_alerts)
        return NoReport(
            409,
            f"incident {record.id} is still open ({firing} alert{'s' if firing > 1 else ''} "
            f"firing, since {since}): its report is written once it closes",
        )
    return record
