"""The recovery plan's improvement metrics, read from what the store has recorded.

Recovery time, recovery success rate, automation effectiveness and the time
between failures are answers about history, so they are read from the store when
Prometheus scrapes: they survive restarts, and every replica reports the same.
They are cumulative (counters, sums) so that `increase()` gives any range's
figures — which would make each scrape read all of history. Instead, history is
split at a cutoff a day or two back: what lies before it no longer changes (runs
end within minutes, incidents are classed once their runs ended), so it is
aggregated once per cutoff and kept (`_Totals`); each scrape aggregates only the
rows since the cutoff, found by the indexes on `remediation_runs.started_at` and
`incidents.closed_at`, and adds the two. A process that starts reads all of
history once.

Which run outcomes count as a recovery is decided here once (`RECOVERED`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Float, bindparam, case, cast, exists, extract, func, or_, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TIMESTAMP

from alert_webhook.db.schema import alerts, incidents, remediation_runs, remediation_steps
from alert_webhook.db.transactions import Transactions
from alert_webhook.remediation.states import RunStatus, StepStatus

# A run that ended with its alert's problem fixed, as Prometheus saw it (an
# `ineffective` run acted and did not recover). The one place that says so:
# success rate, recovery time and automation effectiveness all read it.
RECOVERED = frozenset({RunStatus.VERIFIED})
# A run acted when it started (`started_at` set) and ended in any final outcome
# but a dry run's; a guardrail's refusal never starts. An outcome added later
# counts as acting unless listed here.
NOT_ACTING = frozenset({RunStatus.BLOCKED, RunStatus.SKIPPED})
ACTED = frozenset(s for s in RunStatus if s.final) - NOT_ACTING
UNFINISHED = frozenset(s for s in RunStatus if not s.final)

SERVICE = "service"  # the label recovery time and failures are grouped by
DAY = 86400.0
# History older than this (rounded down to a day) is aggregated once per day.
SETTLED_AFTER = DAY
FOREVER = 1e18  # the end of a firing interval that has not ended; the open range ends

runs, steps = remediation_runs, remediation_steps


@dataclass(frozen=True)
class ServiceRecovery:
    """Recovered runs of one service's alerts: alert `startsAt` → run finished."""

    service: str  # "" for alerts without a service label
    count: int
    seconds_total: float
    last_seconds: float  # of the run that finished last


@dataclass(frozen=True)
class PlaybookAttempts:
    playbook: str
    attempts: int  # runs that acted
    recoveries: int  # of those, runs that recovered


@dataclass(frozen=True)
class ActionAttempts:
    playbook: str
    action: str
    outcome: str  # the step's final status
    count: int


@dataclass(frozen=True)
class Resolutions:
    """Closed incidents by who resolved them, each counted once its class is final."""

    automated: int = 0  # no person answered it and a run recovered its alert
    # A person answered it: acknowledged it before it closed, or closed it as handled.
    acknowledged: int = 0
    unattended: int = 0  # neither: it cleared by itself, or was fixed without a word

    def as_dict(self) -> dict[str, int]:
        return {"automated": self.automated, "acknowledged": self.acknowledged,
                "unattended": self.unattended}  # fmt: skip


@dataclass(frozen=True)
class ServiceFailures:
    """A service's failures on record: overlapping firing alerts are one failure."""

    service: str
    failures: int
    first_start: float
    last_start: float

    @property
    def between_seconds(self) -> float:
        """The time between the first and the last start: the sum of the gaps."""
        return self.last_start - self.first_start


@dataclass(frozen=True)
class Improvement:
    recoveries: Sequence[ServiceRecovery]
    playbooks: Sequence[PlaybookAttempts]
    actions: Sequence[ActionAttempts]
    incidents: Resolutions
    failures: Sequence[ServiceFailures]


@dataclass(frozen=True)
class _Totals:
    """The aggregates of one stretch of history; a later stretch adds to them."""

    recovered: Mapping[str, tuple[int, float]] = field(default_factory=dict)  # n, seconds
    latest: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # finished, secs
    runs: Mapping[tuple[str, str], int] = field(default_factory=dict)  # playbook, status
    steps: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    resolved: Mapping[str, int] = field(default_factory=dict)
    failures: Mapping[str, tuple[int, float, float]] = field(default_factory=dict)

    def __add__(self, later: _Totals) -> _Totals:
        recovered = dict(self.recovered)
        for service, (n, seconds) in later.recovered.items():
            had_n, had_seconds = recovered.get(service, (0, 0.0))
            recovered[service] = (had_n + n, had_seconds + seconds)
        failures = dict(self.failures)
        for service, (n, first, last) in later.failures.items():
            had = failures.get(service)
            failures[service] = (n, first, last) if had is None else (
                had[0] + n, min(had[1], first), max(had[2], last))  # fmt: skip
        return _Totals(
            recovered,
            {
                s: max(self.latest.get(s, at), at)
                for s, at in {**self.latest, **later.latest}.items()
            },
            Counter(self.runs) + Counter(later.runs),
            Counter(self.steps) + Counter(later.steps),
            Counter(self.resolved) + Counter(later.resolved),
            failures,
        )

    def improvement(self) -> Improvement:
        acted: Counter[str] = Counter()
        recovered: Counter[str] = Counter()
        for (playbook, status), n in self.runs.items():
            acted[playbook] += n
            recovered[playbook] += n if status in _values(RECOVERED) else 0
        return Improvement(
            recoveries=[ServiceRecovery(s, n, secs, self.latest[s][1])
                        for s, (n, secs) in sorted(self.recovered.items())],
            playbooks=[PlaybookAttempts(p, acted[p], recovered[p]) for p in sorted(acted)],
            actions=[ActionAttempts(*key, n) for key, n in sorted(self.steps.items())],
            incidents=Resolutions(**self.resolved),
            failures=[ServiceFailures(s, *f) for s, f in sorted(self.failures.items())],
        )  # fmt: skip


def _values(statuses: frozenset[RunStatus]) -> list[str]:
    return sorted(s.value for s in statuses)


class PortableSQL:
    """The two expressions portable SQL lacks: a label out of the labels' JSON
    text, and an RFC 3339 timestamp as Unix time."""

    def __init__(self, dialect: Dialect) -> None:
        self.postgres = dialect.name == "postgresql"

    def label(self, name: str) -> ColumnElement[Any]:
        if self.postgres:
            return func.json_extract_path_text(cast(alerts.c.labels, JSON), name)
        return func.json_extract(alerts.c.labels, f'$."{name}"')

    def epoch(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.postgres:
            return cast(extract("epoch", cast(column, TIMESTAMP(timezone=True))), Float)
        # One parse; exact to about 0.1 ms (a Julian day in a double).
        return (func.julianday(column) - 2440587.5) * 86400.0


# Every statement reads one stretch of history, [lo, hi), of its own clock.
LO: BindParameter[float] = bindparam("lo", type_=Float)
HI: BindParameter[float] = bindparam("hi", type_=Float)


def _within(column: ColumnElement[Any]) -> tuple[ColumnElement[bool], ...]:
    return column >= LO, column < HI


class _Statements:
    """The aggregates `_Totals` holds, each over the stretch [lo, hi): runs by when
    they started acting, incidents by when they closed, failures by when they began."""

    def __init__(self, dialect: Dialect) -> None:
        sql = PortableSQL(dialect)
        recovered = runs.c.status.in_(_values(RECOVERED))
        done = self._recovered_runs(sql, recovered).subquery()
        self.recovered = select(done.c.service, func.count(), func.sum(done.c.seconds)).group_by(
            done.c.service
        )
        rank = func.row_number().over(
            partition_by=done.c.service, order_by=(done.c.finished_at.desc(), done.c.id.desc())
        )
        ranked = select(done, rank.label("rank")).subquery()
        self.latest = select(ranked.c.service, ranked.c.finished_at, ranked.c.seconds).where(
            ranked.c.rank == 1
        )
        self.runs = (
            select(runs.c.playbook, runs.c.status, func.count())
            .where(runs.c.status.in_(_values(ACTED)), *_within(runs.c.started_at))
            .group_by(runs.c.playbook, runs.c.status)
        )
        self.steps = (
            select(runs.c.playbook, steps.c.action, steps.c.status, func.count())
            .join_from(runs, steps, runs.c.id == steps.c.run_id)
            .where(steps.c.status != StepStatus.STARTED.value, *_within(runs.c.started_at))
            .group_by(runs.c.playbook, steps.c.action, steps.c.status)
        )
        self.resolved = self._resolutions(recovered)
        self.failures = self._failure_starts(sql)

    @staticmethod
    def _recovered_runs(sql: PortableSQL, recovered: ColumnElement[bool]) -> Any:
        """Each recovered run's service and recovery time, never below 0: `startsAt`
        is Prometheus' clock, `finished_at` the webhook's."""
        took = runs.c.finished_at - sql.epoch(alerts.c.starts_at)
        return (
            select(
                func.coalesce(sql.label(SERVICE), "").label("service"),
                case((took < 0, 0.0), else_=took).label("seconds"),
                runs.c.finished_at,
                runs.c.id,
            )
            .join_from(runs, alerts, alerts.c.id == runs.c.alert_id)
            .where(recovered, runs.c.finished_at.is_not(None), *_within(runs.c.started_at))
        )

    @staticmethod
    def _resolutions(recovered: ColumnElement[bool]) -> Any:
        """Closed incidents by resolution, once no run of their alert is unfinished
        (so an incident is counted in its final class, and counts never go down)."""
        of_alert = runs.c.alert_id == incidents.c.alert_id
        answered = or_(
            incidents.c.acked_at <= incidents.c.closed_at, incidents.c.handled_at.is_not(None)
        )
        resolution = case(
            (answered, "acknowledged"),
            (exists().where(of_alert, recovered), "automated"),
            else_="unattended",
        )
        unfinished = exists().where(of_alert, runs.c.status.in_(_values(UNFINISHED)))
        closed = (
            select(resolution.label("resolution"))
            .where(*_within(incidents.c.closed_at), ~unfinished)
            .subquery()
        )
        return select(closed.c.resolution, func.count()).group_by(closed.c.resolution)

    @staticmethod
    def _failure_starts(sql: PortableSQL) -> Any:
        """Per service: how many failures began in [lo, hi), the first and last start.

        A failure is a run of overlapping firing intervals of the service's alerts
        (`startsAt` to the incident's close; open while firing): an interval starts
        a failure when it starts after every earlier one has ended. The intervals
        read are those still firing at `lo` or after (by the index on `closed_at`),
        so one firing since before `lo` swallows the starts it overlaps."""
        start, closed = sql.epoch(alerts.c.starts_at), incidents.c.closed_at
        end = case((closed.is_(None), FOREVER), (closed < start, start), else_=closed)
        intervals = (
            select(sql.label(SERVICE).label("service"), start.label("start"), end.label("end"))
            .join_from(incidents, alerts, alerts.c.id == incidents.c.alert_id)
            .where(or_(closed.is_(None), closed >= LO), sql.label(SERVICE).is_not(None))
            .subquery()
        )
        reach = func.max(intervals.c.end).over(
            partition_by=intervals.c.service, order_by=intervals.c.start, rows=(None, -1)
        )
        ordered = select(intervals.c.service, intervals.c.start, reach.label("reach")).subquery()
        firsts = (
            select(ordered.c.service, ordered.c.start)
            .where(*_within(ordered.c.start),
                   or_(ordered.c.reach.is_(None), ordered.c.start > ordered.c.reach))
            .subquery()
        )  # fmt: skip
        first, last = func.min(firsts.c.start), func.max(firsts.c.start)
        return select(firsts.c.service, func.count(), first, last).group_by(firsts.c.service)

    def totals(self, conn: Connection, lo: float, hi: float) -> _Totals:
        span = {"lo": lo, "hi": hi}

        def rows(stmt: Any) -> list[Any]:
            return [tuple(r) for r in conn.execute(stmt, span)]

        return _Totals(
            recovered={s: (int(n), float(secs)) for s, n, secs in rows(self.recovered)},
            latest={s: (float(at), float(secs)) for s, at, secs in rows(self.latest)},
            runs={(p, s): int(n) for p, s, n in rows(self.runs)},
            steps={(p, a, o): int(n) for p, a, o, n in rows(self.steps)},
            resolved={str(r): int(n) for r, n in rows(self.resolved)},
            failures={s: (int(n), float(a), float(b)) for s, n, a, b in rows(self.failures)},
        )


class Recovery:
    """Reads the improvement metrics: the settled history's totals, kept per cutoff,
    plus the rows since the cutoff, read on every call."""

    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._statements = _Statements(dialect)
        self._settled: tuple[float, _Totals] | None = None  # cutoff, totals before it
        self._lock = threading.Lock()  # one reader of all history at a time

    @staticmethod
    def cutoff(now: float) -> float:
        """The same on every replica: a day boundary at least `SETTLED_AFTER` back."""
        return (now - SETTLED_AFTER) // DAY * DAY

    def improvement(self, now: float) -> Improvement:
        cutoff = self.cutoff(now)
        with self._lock:
            settled = self._settled
            if settled is None or settled[0] != cutoff:
                with self.tx.read() as conn:
                    settled = self._settled = (
                        cutoff, self._statements.totals(conn, -FOREVER, cutoff))  # fmt: skip
        with self.tx.read() as conn:
            recent = self._statements.totals(conn, cutoff, FOREVER)
        return (settled[1] + recent).improvement()
