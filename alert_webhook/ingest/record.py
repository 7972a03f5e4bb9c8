"""Recording notifications: alerts, their state changes, and what the planners make
of those changes (`planners.py`).

All inside the caller's transaction, and for a whole batch of notifications (the
group commit) in a handful of statements whatever the number of notifications
and alerts. A state change (an `alert_events` row) is inserted once thanks to
its unique constraint; INSERT … ON CONFLICT DO NOTHING RETURNING hands back
exactly the rows this batch inserted, so only the inserter runs the planners,
and repeats, retries and HA peers add nothing.

A batch means what its notifications would mean one after another: a later
notification's copy of an alert wins over an earlier one, except that a resolved
alert never turns back to firing; each state change, delivery and incident
carries the receive time of the notification that brought it. A firing copy of
an instance already resolved (in the store, or earlier in the batch) is *stale*:
a lagging HA peer or a retry. It changes nothing and plans nothing.

Rows are built as tuples in each statement's bind order (`db/bulk.py`): at
hundreds of alerts per batch, a dict per row is measurable.
Statements are built once per store: SQLAlchemy then reuses their compiled form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, insert, literal_column, select
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import Returning, dumps_str_map, insert_for
from alert_webhook.db.schema import (
    NOTIFICATION_BODY,
    alert_events,
    alerts,
    heartbeats,
    notifications,
)
from alert_webhook.ingest.payload import Alert, Notification
from alert_webhook.ingest.planners import Recording, StateChange, Tally

_UPDATED = (
    "status", "alertname", "severity", "labels", "annotations", "ends_at",
    "generator_url", "last_received_at", "last_notification_id",
)  # fmt: skip
AlertKey = tuple[str, str]  # fingerprint, startsAt
_NOTIFICATION_KEYS = (
    "received_at", "receiver", "status", "group_key", "alert_count", "truncated_alerts", "body",
)  # fmt: skip
_ALERT_KEYS = (
    "fingerprint", "starts_at", "status", "alertname", "severity", "labels", "annotations",
    "ends_at", "generator_url", "first_received_at", "last_received_at", "last_notification_id",
)  # fmt: skip


_NOTHING_STORED: Mapping[str, int] = MappingProxyType({})


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Incoming:
    """A validated notification waiting to be recorded, with its receive time (and
    its body as received, which the store no longer keeps: schema.NOTIFICATION_BODY)."""

    notification: Notification
    body: bytes
    received_at: float


@dataclass(frozen=True)
class RecordResult:
    """What recording one notification did."""

    notification_id: int
    alerts: int
    state_changes: int
    queued_deliveries: int = 0  # pending, for the delivery worker
    # Deliveries written as delivered (their channel's transport is the store), by channel.
    stored: Mapping[str, int] = field(default_factory=dict)
    stale: int = 0  # firing copies of instances already resolved: recorded, not acted on
    planned_runs: int = 0  # remediation runs planned, for the runner

    @property
    def stored_deliveries(self) -> int:
        return sum(self.stored.values())


@dataclass
class _Batch:
    """What a batch says about each alert, gathered in notification order."""

    items: Sequence[Incoming]
    nids: list[int]
    chosen: dict[AlertKey, tuple[int, Alert]]  # the copy the alert row ends up with
    first_seen: dict[AlertKey, float]
    events: dict[tuple[AlertKey, str], tuple[int, Alert]]  # first copy per state
    beats: dict[str, float]
    stale: list[tuple[int, AlertKey]]  # (notification index, alert) of each stale copy


def _gather(items: Sequence[Incoming], nids: list[int], heartbeat: str | None) -> _Batch:
    batch = _Batch(items, nids, {}, {}, {}, {}, [])
    for index, item in enumerate(items):
        for alert in item.notification.alerts:
            if heartbeat and alert.alertname == heartbeat:
                batch.beats[heartbeat] = item.received_at
                continue
            key = (alert.fingerprint, _iso(alert.startsAt) or "")
            held = batch.chosen.get(key)
            batch.first_seen.setdefault(key, item.received_at)
            # Later copies win, but only while firing: resolved stays resolved.
            if held is None or held[1].status == "firing":
                batch.chosen[key] = (index, alert)
            elif alert.status == "firing" and (key, "firing") not in batch.events:
                batch.stale.append((index, key))  # fires after its own resolution
                continue
            batch.events.setdefault((key, alert.status), (index, alert))
    return batch


class Recorder:
    def __init__(self, dialect: Dialect) -> None:
        dialect_insert = insert_for(dialect)
        upsert = dialect_insert(alerts)
        # A resolved alert stays resolved: a late firing copy (an HA peer, a
        # retry) must not turn it back, so only firing rows take updates.
        # RETURNING gives the ids of the rows it wrote; only rows it left alone
        # (resolved ones) need the extra SELECT.
        self.upsert_alerts = Returning(
            upsert.on_conflict_do_update(
                index_elements=["fingerprint", "starts_at"],
                set_={c: upsert.excluded[c] for c in _UPDATED},
                where=alerts.c.status == literal_column("'firing'"),
            ).returning(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at),
            dialect,
            _ALERT_KEYS,
        )
        self.alert_ids = select(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at).where(
            alerts.c.fingerprint.in_(bindparam("fps", expanding=True))
        )
        # Only the rows it inserted come back: exactly the new state changes.
        self.insert_events = Returning(
            dialect_insert(alert_events)
            .on_conflict_do_nothing(index_elements=["alert_id", "status"])
            .returning(alert_events.c.id, alert_events.c.alert_id, alert_events.c.status),
            dialect,
            ("alert_id", "status", "received_at", "notification_id"),
        )
        # Ids in the order of the rows given, whatever the dialect returns them in.
        self.insert_notifications = Returning(
            insert(notifications).returning(notifications.c.id, sort_by_parameter_order=True),
            dialect,
            _NOTIFICATION_KEYS,
            ordered=True,
        )
        beat = dialect_insert(heartbeats)
        self.beat = beat.on_conflict_do_update(
            index_elements=["name"], set_={"last_seen": beat.excluded.last_seen}
        )

    def record_many(
        self, conn: Connection, items: Sequence[Incoming], recording: Recording, now: float
    ) -> list[RecordResult]:
        """Store the notifications in order and run the planners on the state changes
        they bring; `now` is when deliveries to the store's own channels count as
        handed over."""
        nids = [
            row[0] for row in self.insert_notifications(conn, [_notification(i) for i in items])
        ]
        batch = _gather(items, nids, recording.heartbeat)
        if batch.beats:
            beats = [{"name": name, "last_seen": at} for name, at in batch.beats.items()]
            conn.execute(self.beat, beats)
        changes_of = [0] * len(items)
        stale_of = [0] * len(items)
        tally = Tally(len(items))
        if batch.chosen:
            changes = self._state_changes(conn, batch)
            for change in changes:
                changes_of[change.index] += 1
            if changes:
                for planner in recording.planners:
                    planner.plan(conn, changes, now, tally)
                tally.send(conn)  # the log's lines, written before the commit
        for index, _key in batch.stale:
            stale_of[index] += 1
        return [
            RecordResult(
                nid,
                len(item.notification.alerts),
                changes,
                queued,
                stored or _NOTHING_STORED,
                stale,
                planned,
            )  # fmt: skip
            for nid, item, changes, queued, stored, stale, planned in zip(
                nids,
                items,
                changes_of,
                tally.queued,
                tally.stored,
                stale_of,
                tally.planned_runs,
                strict=True,
            )  # fmt: skip
        ]

    def _state_changes(self, conn: Connection, batch: _Batch) -> list[StateChange]:
        rows = self.upsert_alerts(conn, _alert_params(batch))
        ids = {(fingerprint, starts_at): id_ for id_, fingerprint, starts_at in rows}
        if len(ids) < len(batch.chosen):
            # The upsert leaves resolved instances alone: a firing copy of one is stale.
            fps = sorted({key[0] for key in batch.chosen if key not in ids})
            found = conn.execute(self.alert_ids, {"fps": fps})
            resolved = {(r.fingerprint, r.starts_at): r.id for r in found}
            resolved = {key: id_ for key, id_ in resolved.items() if key not in ids}
            for (key, status), (index, _alert) in list(batch.events.items()):
                if status == "firing" and key in resolved:
                    del batch.events[(key, status)]
                    batch.stale.append((index, key))
            ids |= resolved
        origin = {(ids[key], status): copy for (key, status), copy in batch.events.items()}
        params = [
            (alert_id, status, batch.items[index].received_at, batch.nids[index])
            for (alert_id, status), (index, _alert) in origin.items()
        ]
        if not params:
            return []
        changes = []
        for event_id, alert_id, status in self.insert_events(conn, params):
            index, alert = origin[(alert_id, status)]
            received_at = batch.items[index].received_at
            changes.append(StateChange(event_id, alert_id, status, index, alert, received_at))
        return changes


def _notification(item: Incoming) -> tuple[Any, ...]:
    n = item.notification
    return (
        item.received_at, n.receiver, n.status, n.groupKey, len(n.alerts), n.truncatedAlerts,
        NOTIFICATION_BODY,
    )  # fmt: skip


def _alert_params(batch: _Batch) -> list[tuple[Any, ...]]:
    """Upsert rows in _ALERT_KEYS order."""
    items, nids, first_seen = batch.items, batch.nids, batch.first_seen
    return [
        (fp, starts_at, a.status, a.alertname, a.severity, dumps_str_map(a.labels),
         dumps_str_map(a.annotations), _iso(a.endsAt), a.generatorURL,
         first_seen[(fp, starts_at)], items[index].received_at, nids[index])
        for (fp, starts_at), (index, a) in batch.chosen.items()
    ]  # fmt: skip
