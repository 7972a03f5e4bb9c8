"""Flapping: an alert that changes state more than `max_changes` times within
`window_seconds` (`FlappingSettings`) is flapping. Decided here, in the
transaction that records its state changes, from what the store holds — so
every replica sees the same count, and the store's one-open-episode index lets
only one of them begin an episode.

An alert here is its fingerprint: each fire-and-resolve cycle that Alertmanager
sends is a new instance (a new `startsAt`), and all of them count. The change
past the limit *begins* an episode (a `flapping` row): its messages go out as
usual, carrying the note "flapping: 5 changes in 30 min". Every change after
it, until the episode ends, is *hushed*: its messages are recorded `skipped`
with a note. The verdicts go into the batch's `Tally.flapping` for the delivery
and remediation planners that run after this one; their incidents are marked
(`incidents.flapping_id`, `incidents.flapping`) for the console.

The episode ends in the "flapping" duty (`ending.py`) once the alert has held
one state for `hold_seconds`. Changes before that end never count again: a new
episode needs `max_changes` + 1 changes after the last one's.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select, union, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import Statement, insert_for
from alert_webhook.db.schema import FLAPPING_OPEN, alert_events, alerts, flapping, incidents
from alert_webhook.delivery.settings import FlappingSettings
from alert_webhook.ingest.planners import PerDialect, StateChange, Tally


def span(seconds: float) -> str:
    """A window or a hold as people read it: `30 min`, `45 s`."""
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def flapping_note(changes: int, window: float) -> str:
    return f"flapping: {changes} changes in {span(window)}"


def stopped_note(status: str, hold: float) -> str:
    return f"stopped flapping: {status} for {span(hold)}"


@dataclass
class _Episode:
    id: int
    note: str


@dataclass(frozen=True)
class _Statements:
    candidates: Statement
    events: Any
    episodes: Any
    begin: Any


def _build(dialect: Dialect) -> _Statements:
    fps: Any = bindparam("fps", expanding=True)
    # The alerts with more changes in the window than the limit, or an open
    # episode: only these can flap. Most batches hold none, and the count stays
    # in the database instead of every change coming back as a row.
    counted = (
        select(alerts.c.fingerprint)
        .select_from(alert_events)
        .join(alerts, alerts.c.id == alert_events.c.alert_id)
        .where(alerts.c.fingerprint.in_(fps), alert_events.c.received_at > bindparam("since"))
        .group_by(alerts.c.fingerprint)
        .having(func.count() > bindparam("max_changes"))
    )
    open_episodes = select(flapping.c.fingerprint).where(
        flapping.c.fingerprint.in_(fps), FLAPPING_OPEN
    )
    candidates = Statement(union(counted, open_episodes), dialect)
    events = (
        select(alerts.c.fingerprint, alert_events.c.received_at, alert_events.c.id)
        .join(alerts, alerts.c.id == alert_events.c.alert_id)
        .where(alerts.c.fingerprint.in_(fps), alert_events.c.received_at > bindparam("since"))
    )
    # The open episode of each alert, and the ones that ended in the window (the
    # changes they covered do not count again).
    episodes = select(
        flapping.c.id, flapping.c.fingerprint, flapping.c.changes, flapping.c.ended_at,
        flapping.c.last_change_at,
    ).where(
        flapping.c.fingerprint.in_(fps),
        or_(FLAPPING_OPEN, flapping.c.last_change_at > bindparam("since")),
    )  # fmt: skip
    begin = (
        insert_for(dialect)(flapping)
        .on_conflict_do_nothing(index_elements=["fingerprint"], index_where=FLAPPING_OPEN)
        .returning(flapping.c.id)
    )
    return _Statements(candidates, events, episodes, begin)


class FlappingPlanner:
    """Runs after the incident planner (the incidents it marks exist) and before the
    delivery planner (which reads its verdicts from the tally)."""

    def __init__(self, settings: FlappingSettings) -> None:
        self.settings = settings
        self._statements = PerDialect()

    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None:
        if not self.settings.enabled:
            return
        st: _Statements = self._statements.get(conn.dialect, _build)
        window = self.settings.window_seconds
        since = min(c.received_at for c in changes) - window
        fingerprints = sorted({c.alert.fingerprint for c in changes})
        limit = self.settings.max_changes
        asked = {"fps": fingerprints, "since": since, "max_changes": limit}
        flappable = {row[0] for row in st.candidates.rows(conn, asked)}
        if not flappable:
            return
        changes = [c for c in changes if c.alert.fingerprint in flappable]
        params = {"fps": sorted(flappable), "since": since}
        seen: dict[str, list[tuple[float, int]]] = {}
        for fingerprint, at, event_id in conn.execute(st.events, params):
            seen.setdefault(fingerprint, []).append((at, event_id))
        for times in seen.values():
            times.sort()
        open_: dict[str, _Episode] = {}
        counted_from: dict[str, float] = {}
        for row in conn.execute(st.episodes, params):
            if row.ended_at is None:
                open_[row.fingerprint] = _Episode(row.id, flapping_note(row.changes, window))
            else:
                held = counted_from.get(row.fingerprint, row.last_change_at)
                counted_from[row.fingerprint] = max(held, row.last_change_at)
        for c in sorted(changes, key=lambda c: (c.received_at, c.id)):
            fingerprint = c.alert.fingerprint
            episode = open_.get(fingerprint)
            if episode is not None and self._hush(conn, c, episode):
                tally.flapping[c.id] = None
                continue
            open_.pop(fingerprint, None)  # ended by the duty meanwhile
            times = seen.get(fingerprint, [])
            since = max(c.received_at - window, counted_from.get(fingerprint, float("-inf")))
            count = bisect.bisect_right(times, (c.received_at, c.id)) - bisect.bisect_right(
                times, (since, float("inf"))
            )
            if count <= self.settings.max_changes:
                continue
            begun = self._begin(conn, st, c, count)
            if begun is not None:
                open_[fingerprint] = begun
                tally.flapping[c.id] = begun.note
            else:  # another replica began it a moment ago: this change is its
                found = conn.execute(
                    select(flapping.c.id, flapping.c.changes).where(
                        flapping.c.fingerprint == fingerprint, FLAPPING_OPEN
                    )
                ).first()
                if found is not None:
                    episode = _Episode(found.id, flapping_note(found.changes, window))
                    if self._hush(conn, c, episode):
                        open_[fingerprint] = episode
                        tally.flapping[c.id] = None

    def _begin(
        self, conn: Connection, st: _Statements, c: StateChange, count: int
    ) -> _Episode | None:
        row = conn.execute(
            st.begin,
            {
                "fingerprint": c.alert.fingerprint, "alertname": c.alert.alertname,
                "started_at": c.received_at, "started_event_id": c.id, "changes": count,
                "last_change_at": c.received_at, "last_status": c.status,
                "last_alert_id": c.alert_id, "last_event_id": c.id,
            },
        ).first()  # fmt: skip
        if row is None:
            return None
        episode = _Episode(row[0], flapping_note(count, self.settings.window_seconds))
        _mark(conn, c.alert_id, episode)
        return episode

    @staticmethod
    def _hush(conn: Connection, c: StateChange, episode: _Episode) -> bool:
        """Count `c` in the open episode; False if the episode ended meanwhile."""
        counted = conn.execute(
            update(flapping)
            .where(flapping.c.id == episode.id, FLAPPING_OPEN)
            .values(changes=flapping.c.changes + 1)
        )
        if counted.rowcount != 1:
            return False
        conn.execute(
            update(flapping)
            .where(flapping.c.id == episode.id, flapping.c.last_change_at <= c.received_at)
            .values(
                last_change_at=c.received_at, last_status=c.status,
                last_alert_id=c.alert_id, last_event_id=c.id,
            )
        )  # fmt: skip
        _mark(conn, c.alert_id, episode)
        return True


def _mark(conn: Connection, alert_id: int, episode: _Episode) -> None:
    """The incident of the change's alert takes part in the episode (the console's
    marker); an alert first seen resolved has none."""
    conn.execute(
        update(incidents)
        .where(incidents.c.alert_id == alert_id)
        .values(flapping_id=episode.id, flapping=episode.note)
    )
