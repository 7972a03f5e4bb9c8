"""The noise report's read model: over a window (the last `since` seconds), per
alert rule (alertname) and per service, how often it fired and what came of
it; per playbook, what its runs ended in. The candidates to tune or delete are
the alerts **never acted on**: they paged someone, nobody acknowledged them,
and they resolved by themselves.

An alert here is one instance (an `alerts` row: fingerprint + `startsAt`) whose
firing state change arrived in the window; its incident (episodes.py's
`ConsoleAlert`, read with `ALERTS_WITH_INCIDENTS`), its resolution, deliveries
and runs are read in one transaction, grouped in SQL, and folded here:

- fired: such instances;
- flaps: flapping episodes (the `flapping` table) that began in the window;
- resolved unacknowledged: resolved (Alertmanager's, not closed by an
  operator's hand) with no acknowledgement before the resolution;
- median duration: from firing to resolved, of the instances that resolved;
- healed: with a run that recovered it (`RECOVERED`, reports/recovery.py);
- messages: deliveries delivered to people (every channel but the console's
  and the log's, `QUIET_CHANNELS`);
- never acted on: resolved unacknowledged, not healed, not handled, with at
  least one message sent.

The worst offender is first: the most alerts never acted on (people were
disturbed for nothing), then the most messages, fires, flaps; ties by name.
Playbooks: the most runs that did not heal (ineffective, failed, blocked),
then the most runs; ties by name. Runs cancelled because their alert resolved
first are counted apart (`cancelled`): nothing was left to heal.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Dialect

from alert_webhook.db.schema import alert_events, alerts, deliveries, flapping, remediation_runs
from alert_webhook.db.transactions import Transactions
from alert_webhook.incidents.episodes import ALERTS_WITH_INCIDENTS, ConsoleAlert, episode_alert
from alert_webhook.incidents.grouping import service_of
from alert_webhook.remediation.states import RunStatus
from alert_webhook.reports.recovery import RECOVERED

# Deliveries on these channels reach the console or the log, not a person's
# phone, inbox or chat: no message sent, nobody paged.
QUIET_CHANNELS = frozenset({"dashboard", "log"})
DELIVERED = "delivered"
runs = remediation_runs

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SINCE = re.compile(r"(\d{1,6})([smhdw])")
# A report over more than this reads too much history for a page.
MAX_SINCE = 366 * 86400.0
DEFAULT_SINCE = "7d"


class BadSince(ValueError):
    """`since` is not a duration the report takes; the text names the parameter."""


def parse_since(text: str) -> float:
    """`7d`, `24h`, `30m`, `2w`, `90s` (one number, one unit) in seconds, more
    than 0 and at most a year; BadSince naming `since` otherwise."""
    match = _SINCE.fullmatch(text.strip())
    if not match:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise BadSince(f"since: not a duration like 7d, 24h or 30m: {shown!r}")
    seconds = int(match[1]) * _UNITS[match[2]]
    if not 0 < seconds <= MAX_SINCE:
        raise BadSince(f"since: must be more than 0 and at most 366d, not {text.strip()}")
    return seconds


@dataclass(frozen=True)
class NoiseRow:
    """One alert rule's (or one service's) figures over the window."""

    name: str
    fired: int = 0
    flaps: int = 0
    resolved_unacknowledged: int = 0
    median_duration_seconds: float | None = None
    healed: int = 0
    messages: int = 0
    never_acted_on: int = 0

    @property
    def healed_share(self) -> float | None:
        """Share of its firings that a run recovered; None when it never fired."""
        return self.healed / self.fired if self.fired else None

    @property
    def worst_first(self) -> tuple[int, int, int, int, str]:
        return (-self.never_acted_on, -self.messages, -self.fired, -self.flaps, self.name)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "healed_share": self.healed_share}


@dataclass(frozen=True)
class PlaybookRow:
    """What one playbook's runs, of the window's alerts, ended in (`other`: dry
    runs, and runs not over yet; `cancelled`: their alert resolved first)."""

    playbook: str
    runs: int = 0
    verified: int = 0
    ineffective: int = 0
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0

    @property
    def other(self) -> int:
        ended = self.verified + self.ineffective + self.failed + self.blocked + self.cancelled
        return self.runs - ended

    @property
    def worst_first(self) -> tuple[int, int, str]:
        return (-(self.ineffective + self.failed + self.blocked), -self.runs, self.playbook)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "other": self.other}


@dataclass(frozen=True)
class NoiseReport:
    since: float  # the window's start and end (Unix time)
    until: float
    rules: list[NoiseRow] = field(default_factory=list)
    services: list[NoiseRow] = field(default_factory=list)
    playbooks: list[PlaybookRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since, "until": self.until,
            "rules": [r.to_json() for r in self.rules],
            "services": [r.to_json() for r in self.services],
            "playbooks": [p.to_json() for p in self.playbooks],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoiseReport:
        """The report as `to_json` wrote it (what the CLI reads from the API)."""
        rows = [f for f in NoiseRow.__dataclass_fields__]
        books = [f for f in PlaybookRow.__dataclass_fields__]
        return cls(
            float(data["since"]), float(data["until"]),
            [NoiseRow(**{k: r[k] for k in rows}) for r in data["rules"]],
            [NoiseRow(**{k: r[k] for k in rows}) for r in data["services"]],
            [PlaybookRow(**{k: p[k] for k in books}) for p in data["playbooks"]],
        )  # fmt: skip


@dataclass(frozen=True)
class _Fired:
    """One alert instance that fired in the window, with what became of it."""

    alert: ConsoleAlert
    fired_at: float
    resolved_at: float | None
    messages: int
    run_statuses: Sequence[str]

    @property
    def service(self) -> str:
        return service_of(self.alert.labels)

    @property
    def handled(self) -> bool:
        return self.alert.incident.get("handled_at") is not None

    @property
    def resolved_unacknowledged(self) -> bool:
        if self.resolved_at is None or self.handled:
            return False
        acked = self.alert.acked_at
        return acked is None or acked > self.resolved_at

    @property
    def healed(self) -> bool:
        return any(s in RECOVERED for s in self.run_statuses)

    @property
    def never_acted_on(self) -> bool:
        return self.resolved_unacknowledged and not self.healed and self.messages > 0


def _rows(
    fired: Iterable[_Fired], flaps: Counter[str], key: Callable[[_Fired], str]
) -> list[NoiseRow]:
    groups: dict[str, list[_Fired]] = {}
    for f in fired:
        groups.setdefault(key(f), []).append(f)
    names = set(groups) | set(flaps)
    found = []
    for name in names:
        members = groups.get(name, [])
        durations = [f.resolved_at - f.fired_at for f in members if f.resolved_at is not None]
        found.append(
            NoiseRow(
                name=name,
                fired=len(members),
                flaps=flaps.get(name, 0),
                resolved_unacknowledged=sum(f.resolved_unacknowledged for f in members),
                median_duration_seconds=statistics.median(durations) if durations else None,
                healed=sum(f.healed for f in members),
                messages=sum(f.messages for f in members),
                never_acted_on=sum(f.never_acted_on for f in members),
            )
        )
    return sorted(found, key=lambda r: r.worst_first)


def _playbooks(fired: Iterable[tuple[str, str]]) -> list[PlaybookRow]:
    counts: dict[str, Counter[str]] = {}
    for playbook, status in fired:
        counts.setdefault(playbook, Counter())[status] += 1
    found = [
        PlaybookRow(
            playbook,
            sum(c.values()),
            c[RunStatus.VERIFIED],
            c[RunStatus.INEFFECTIVE],
            c[RunStatus.FAILED],
            c[RunStatus.BLOCKED],
            c[RunStatus.CANCELLED],
        )  # fmt: skip
        for playbook, c in counts.items()
    ]
    return sorted(found, key=lambda p: p.worst_first)


class Noise:
    """Reads the noise report of a window from the store."""

    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx

    def report(self, since: float, until: float) -> NoiseReport:
        """Alerts whose firing arrived in [since, until), flapping episodes begun then."""
        firing = (
            select(alert_events.c.alert_id, alert_events.c.received_at)
            .where(alert_events.c.status == "firing", alert_events.c.received_at >= since,
                   alert_events.c.received_at < until)
        )  # fmt: skip
        ids = select(firing.subquery().c.alert_id)
        with self.tx.read() as conn:
            fired_at = {a: at for a, at in conn.execute(firing)}
            members = [episode_alert(r) for r in conn.execute(
                ALERTS_WITH_INCIDENTS.where(alerts.c.id.in_(ids)))]  # fmt: skip
            resolved: dict[int, float] = dict(
                conn.execute(
                    select(alert_events.c.alert_id, alert_events.c.received_at).where(
                        alert_events.c.status == "resolved", alert_events.c.alert_id.in_(ids)
                    )
                ).all()
            )
            messages: dict[int, int] = dict(
                conn.execute(
                    select(deliveries.c.alert_id, func.count())
                    .where(deliveries.c.alert_id.in_(ids), deliveries.c.status == DELIVERED,
                           deliveries.c.channel.not_in(sorted(QUIET_CHANNELS)))
                    .group_by(deliveries.c.alert_id)
                ).all()
            )  # fmt: skip
            run_rows = conn.execute(
                select(runs.c.alert_id, runs.c.playbook, runs.c.status)
                .where(runs.c.alert_id.in_(ids)).order_by(runs.c.id)
            ).all()  # fmt: skip
            flaps = conn.execute(
                select(alerts.c.alertname, alerts.c.labels)
                .select_from(flapping)
                .join(alert_events, alert_events.c.id == flapping.c.started_event_id)
                .join(alerts, alerts.c.id == alert_events.c.alert_id)
                .where(flapping.c.started_at >= since, flapping.c.started_at < until)
            ).all()  # fmt: skip
        statuses: dict[int, list[str]] = {}
        for alert_id, _, status in run_rows:
            statuses.setdefault(alert_id, []).append(status)
        fired = [
            _Fired(a, fired_at[a.alert_id], resolved.get(a.alert_id),
                   int(messages.get(a.alert_id, 0)), statuses.get(a.alert_id, []))
            for a in members
        ]  # fmt: skip
        by_rule = Counter(name for name, _ in flaps)
        by_service = Counter(service_of(json.loads(labels)) for _, labels in flaps)
        return NoiseReport(
            since, until, _rows(fired, by_rule, lambda f: f.alert.alertname),
            _rows(fired, by_service, lambda f: f.service),
            _playbooks((playbook, status) for _, playbook, status in run_rows),
        )  # fmt: skip
