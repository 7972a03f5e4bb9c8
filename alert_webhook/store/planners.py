"""Planners: what each new state change sets in motion, in the transaction that
records it — so a crash between the two cannot happen, and every replica's copy of
a notification plans nothing twice (only the inserter of a state change sees it).

A planner gets the batch's new state changes and the open connection, writes its
rows, and counts what it did in the `Tally`. Today: incidents (open on firing,
close on resolved) and deliveries (routed by labels; a resolved message goes
where its firing one went). Statements are compiled once per dialect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.payload import Alert
from alert_webhook.routing import Router, Target
from alert_webhook.store.bulk import Bulk, insert_for
from alert_webhook.store.outbox import delivery_insert
from alert_webhook.store.rows import DeliveryStatus, NewDelivery, Purpose
from alert_webhook.store.schema import deliveries, incidents


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state change this batch inserted, with the copy of the alert that brought it."""

    id: int  # the alert_events row
    alert_id: int
    status: str
    index: int  # which notification of the batch brought it
    alert: Alert
    received_at: float


class Tally:
    """What the planners did, per notification of the batch."""

    def __init__(self, size: int) -> None:
        self.queued = [0] * size  # deliveries left pending for the delivery worker
        self.stored: list[Counter[str] | None] = [None] * size  # delivered when written
        self.planned_runs = [0] * size  # remediation runs for the runner

    def count_stored(self, index: int, channel: str) -> None:
        counts = self.stored[index]
        if counts is None:
            counts = self.stored[index] = Counter()
        counts[channel] += 1


class Planner(Protocol):
    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None: ...


class _PerDialect:
    """Statements compiled for each dialect a planner meets (SQLite, PostgreSQL)."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def get(self, dialect: Dialect, build: Any) -> Any:
        statements = self._built.get(dialect.name)
        if statements is None:
            statements = self._built[dialect.name] = build(dialect)
        return statements


class IncidentPlanner:
    """A firing alert opens an incident with the severity's response deadline; its
    resolution closes it."""

    def __init__(self, deadlines: Mapping[str, float]) -> None:
        self.deadlines = dict(deadlines)
        self._statements = _PerDialect()

    def deadline(self, severity: str) -> float:
        return self.deadlines.get(severity, self.deadlines.get("low", 86400.0))

    @staticmethod
    def _build(dialect: Dialect) -> tuple[Bulk, Bulk]:
        open_ = Bulk(
            insert_for(dialect)(incidents).on_conflict_do_nothing(index_elements=["alert_id"]),
            dialect,
            ("alert_id", "severity", "opened_at", "deadline_at", "tier", "reminders"),
        )
        close = Bulk(
            update(incidents)
            # Closed already (as handled by an operator): that close stands.
            .where(incidents.c.alert_id == bindparam("b_alert"), incidents.c.closed_at.is_(None))
            .values(closed_at=bindparam("b_at")),
            dialect,
            ("b_alert", "b_at"),
        )
        return open_, close

    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None:
        open_, close = self._statements.get(conn.dialect, self._build)
        opened = [
            (c.alert_id, c.alert.severity, c.received_at,
             c.received_at + self.deadline(c.alert.severity), 1, 0)
            for c in changes
            if c.status == "firing"
        ]  # fmt: skip
        if opened:
            open_(conn, opened)
        closed = [(c.alert_id, c.received_at) for c in changes if c.status == "resolved"]
        if closed:
            close(conn, closed)


class DeliveryPlanner:
    """Deliveries for each state change: firing ones routed by their labels; a resolved
    one where its firing message went (not where it was skipped), or routed like a new
    alert when there is no firing record. Deliveries on `stored_channels` (the
    dashboard) are written as delivered: storing them is delivering them."""

    def __init__(self, router: Router, stored_channels: frozenset[str]) -> None:
        self.router = router
        self.stored_channels = stored_channels
        self._statements = _PerDialect()

    @staticmethod
    def _build(dialect: Dialect) -> tuple[Bulk, Any]:
        firing_targets = (
            select(deliveries.c.alert_id, deliveries.c.channel, deliveries.c.recipient)
            .where(
                deliveries.c.alert_id.in_(bindparam("ids", expanding=True)),
                deliveries.c.event_status == "firing",
                deliveries.c.purpose == Purpose.NOTIFY,
                deliveries.c.status != DeliveryStatus.SKIPPED,
            )
            .order_by(deliveries.c.id)
        )
        return delivery_insert(dialect), firing_targets

    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None:
        insert, firing_targets = self._statements.get(conn.dialect, self._build)
        routed = {c.alert_id: self.router.targets(c.alert.labels) for c in changes
                  if c.status == "firing"}  # fmt: skip
        went: dict[int, list[Target]] = {}
        resolved = [c.alert_id for c in changes if c.status == "resolved"]
        if resolved:
            for r in conn.execute(firing_targets, {"ids": resolved}):
                went.setdefault(r.alert_id, []).append(Target(r.channel, r.recipient))
            for alert_id in resolved:  # fired in this very batch: where that message goes
                went.setdefault(alert_id, []).extend(routed.get(alert_id, []))
        rows: list[NewDelivery] = []
        for c in changes:
            targets = routed.get(c.alert_id) if c.status == "firing" else None
            if targets is None:
                targets = list(dict.fromkeys(went.get(c.alert_id, []))) or self.router.targets(
                    c.alert.labels
                )
            for target in targets:
                at = c.received_at
                if target.channel in self.stored_channels:
                    rows.append(NewDelivery.stored(c.alert_id, c.id, c.status, target, at, now))
                    tally.count_stored(c.index, target.channel)
                else:
                    rows.append(
                        NewDelivery.pending(c.alert_id, c.id, c.status, target, Purpose.NOTIFY, at)
                    )
                    tally.queued[c.index] += 1
        if rows:
            insert(conn, rows)


@dataclass(frozen=True)
class Recording:
    """How notifications are recorded: the planners run on each batch's new state
    changes, and the heartbeat alert that is only noted, never stored as an alert."""

    planners: Sequence[Planner] = field(default_factory=tuple)
    heartbeat: str | None = None
