"""Recording notifications: alerts, their state changes, deliveries, incidents.

All inside the caller's transaction, and for a whole batch of notifications (the
group commit) in a handful of statements whatever the number of notifications
and alerts. A state change (an `alert_events` row) is inserted once thanks to
its unique constraint; INSERT … ON CONFLICT DO NOTHING RETURNING hands back
exactly the rows this batch inserted, so only the inserter creates the
deliveries and the incident, and repeats, retries and HA peers add nothing.

A batch means what its notifications would mean one after another: a later
notification's copy of an alert wins over an earlier one, except that a resolved
alert never turns back to firing; each state change, delivery and incident
carries the receive time of the notification that brought it.

Deliveries on channels whose transport is the store itself (the dashboard) are
written as delivered in the same transaction: storing them is delivering them.
Statements are built once per store: SQLAlchemy then reuses their compiled form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.payload import Alert, Notification
from alert_webhook.routing import Planner, Target
from alert_webhook.store.bulk import Bulk, Returning, dumps_str_map
from alert_webhook.store.schema import (
    alert_events,
    alerts,
    deliveries,
    heartbeats,
    incidents,
    notifications,
)

NOTIFY = "notify"
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


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


# In the table's column order, which is the INSERT's bind order: rows pass as they are.
DELIVERY_KEYS = (
    "alert_id", "event_id", "event_status", "channel", "recipient", "purpose", "status",
    "attempts", "next_attempt_at", "provider", "note", "received_at", "finished_at",
)  # fmt: skip


def delivery_row(
    alert_id: int,
    event_id: int,
    status: str,
    target: Target,
    purpose: str,
    now: float,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "event_id": event_id,
        "event_status": status,
        "channel": target.channel,
        "recipient": target.recipient,
        "purpose": purpose,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "note": note,
        "received_at": now,
        "provider": None,
        "finished_at": None,
    }


@dataclass(frozen=True)
class Incoming:
    """A validated notification waiting to be recorded, with its receive time."""

    notification: Notification
    body: bytes
    received_at: float


@dataclass(frozen=True)
class Recorded:
    notification_id: int
    state_changes: int
    stored_deliveries: int  # written as delivered: their channel is the store
    queued_deliveries: int  # pending, for the delivery worker


@dataclass
class _Batch:
    """What a batch says about each alert, gathered in notification order."""

    items: Sequence[Incoming]
    nids: list[int]
    chosen: dict[AlertKey, tuple[int, Alert]]  # the copy the alert row ends up with
    first_seen: dict[AlertKey, float]
    events: dict[tuple[AlertKey, str], tuple[int, Alert]]  # first copy per state
    beats: dict[str, float]


def _gather(items: Sequence[Incoming], nids: list[int], heartbeat: str | None) -> _Batch:
    batch = _Batch(items, nids, {}, {}, {}, {})
    for index, item in enumerate(items):
        for alert in item.notification.alerts:
            if heartbeat and alert.alertname == heartbeat:
                batch.beats[heartbeat] = item.received_at
                continue
            key = (alert.fingerprint, _iso(alert.startsAt) or "")
            held = batch.chosen.get(key)
            # Later copies win, but only while firing: resolved stays resolved.
            if held is None or held[1].status == "firing":
                batch.chosen[key] = (index, alert)
            batch.first_seen.setdefault(key, item.received_at)
            batch.events.setdefault((key, alert.status), (index, alert))
    return batch


class Recorder:
    def __init__(self, dialect_insert: Callable[..., Any], dialect: Dialect) -> None:
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
        self.open_incidents = Bulk(
            dialect_insert(incidents).on_conflict_do_nothing(index_elements=["alert_id"]),
            dialect,
            ("alert_id", "severity", "opened_at", "deadline_at", "tier", "reminders"),
        )
        self.close_incidents = Bulk(
            update(incidents)
            .where(incidents.c.alert_id == bindparam("b_alert"))
            .values(closed_at=bindparam("b_at")),
            dialect,
            ("b_alert", "b_at"),  # rows: (alert id, closed at)
        )
        self.carriers = (
            select(deliveries.c.alert_id, deliveries.c.channel, deliveries.c.recipient)
            .where(
                deliveries.c.alert_id.in_(bindparam("ids", expanding=True)),
                deliveries.c.event_status == "firing",
                deliveries.c.purpose == NOTIFY,
                deliveries.c.status != "skipped",
            )
            .order_by(deliveries.c.id)
        )
        self.insert_deliveries = Bulk(
            dialect_insert(deliveries).on_conflict_do_nothing(), dialect, DELIVERY_KEYS
        )
        beat = dialect_insert(heartbeats)
        self.beat = beat.on_conflict_do_update(
            index_elements=["name"], set_={"last_seen": beat.excluded.last_seen}
        )

    def record_many(
        self, conn: Connection, items: Sequence[Incoming], planner: Planner | None, now: float
    ) -> list[Recorded]:
        """Store the notifications in order; `now` is when their deliveries to the
        store's own channels count as handed over."""
        nids = [
            row[0] for row in self.insert_notifications(conn, [_notification(i) for i in items])
        ]
        batch = _gather(items, nids, planner.heartbeat_alertname if planner else None)
        if batch.beats:
            beats = [{"name": name, "last_seen": at} for name, at in batch.beats.items()]
            conn.execute(self.beat, beats)
        changes_of = [0] * len(items)
        stored_of = [0] * len(items)
        queued_of = [0] * len(items)
        if batch.chosen:
            changes = self._state_changes(conn, batch)
            for change in changes:
                changes_of[change.index] += 1
            if planner is not None and changes:
                stored, queued = self._plan(conn, planner, changes, now)
                for index in stored:
                    stored_of[index] += 1
                for index in queued:
                    queued_of[index] += 1
        counts = zip(nids, changes_of, stored_of, queued_of, strict=True)
        return [Recorded(*c) for c in counts]

    def _state_changes(self, conn: Connection, batch: _Batch) -> list[_Change]:
        rows = self.upsert_alerts(conn, _alert_params(batch))
        ids = {(fingerprint, starts_at): id_ for id_, fingerprint, starts_at in rows}
        if len(ids) < len(batch.chosen):
            fps = sorted({key[0] for key in batch.chosen if key not in ids})
            found = conn.execute(self.alert_ids, {"fps": fps})
            ids |= {(r.fingerprint, r.starts_at): r.id for r in found}
        origin = {(ids[key], status): copy for (key, status), copy in batch.events.items()}
        params = [
            (alert_id, status, batch.items[index].received_at, batch.nids[index])
            for (alert_id, status), (index, _alert) in origin.items()
        ]
        changes = []
        for event_id, alert_id, status in self.insert_events(conn, params):
            index, alert = origin[(alert_id, status)]
            received_at = batch.items[index].received_at
            changes.append(_Change(event_id, alert_id, status, index, alert, received_at))
        return changes

    def _plan(
        self, conn: Connection, planner: Planner, changes: list[_Change], now: float
    ) -> tuple[list[int], list[int]]:
        """Deliveries and incident bookkeeping for the state changes just inserted;
        returns the batch index of each delivery written as delivered, and of each
        left pending for the worker."""
        firing = [c for c in changes if c.status == "firing"]
        resolved = [c for c in changes if c.status == "resolved"]
        targets = {c.alert_id: planner.targets(c.alert.labels) for c in firing}
        if firing:
            self.open_incidents(
                conn,
                [
                    (c.alert_id, severity, c.received_at,
                     c.received_at + planner.deadline(severity), 1, 0)
                    for c in firing
                    for severity in (c.alert.severity,)
                ],
            )  # fmt: skip
        carried: dict[int, list[Target]] = {}
        if resolved:
            ids = [c.alert_id for c in resolved]
            self.close_incidents(conn, [(c.alert_id, c.received_at) for c in resolved])
            for r in conn.execute(self.carriers, {"ids": ids}):
                carried.setdefault(r.alert_id, []).append(Target(r.channel, r.recipient))
            for alert_id in ids:  # fired in this very batch: where that message goes
                carried.setdefault(alert_id, []).extend(targets.get(alert_id, []))
        rows: list[tuple[Any, ...]] = []
        stored: list[int] = []
        queued: list[int] = []
        for c in changes:
            # A resolved message goes where the firing one went (not where it was
            # skipped); without a firing record, it is routed like a new alert.
            chosen = targets.get(c.alert_id) if c.status == "firing" else None
            if chosen is None:
                chosen = list(dict.fromkeys(carried.get(c.alert_id, []))) or planner.targets(
                    c.alert.labels
                )
            at = c.received_at
            for target in chosen:  # rows in DELIVERY_KEYS order
                channel, recipient = target.channel, target.recipient
                if channel in planner.stored_channels:
                    rows.append((c.alert_id, c.id, c.status, channel, recipient, NOTIFY,
                                 "delivered", 1, at, channel, None, at, now))  # fmt: skip
                    stored.append(c.index)
                else:
                    rows.append((c.alert_id, c.id, c.status, channel, recipient, NOTIFY,
                                 "pending", 0, at, None, None, at, None))  # fmt: skip
                    queued.append(c.index)
        if rows:
            self.insert_deliveries(conn, rows)
        return stored, queued


@dataclass(frozen=True)
class _Change:
    """A state change this batch inserted, with the copy of the alert that brought it."""

    id: int
    alert_id: int
    status: str
    index: int
    alert: Alert
    received_at: float


def _notification(item: Incoming) -> tuple[Any, ...]:
    n = item.notification
    return (
        item.received_at, n.receiver, n.status, n.groupKey, len(n.alerts), n.truncatedAlerts,
        item.body.decode("utf-8"),
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
