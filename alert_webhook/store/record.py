"""Recording one notification: alerts, their state changes, deliveries, incidents.

All inside the caller's transaction, in a handful of statements whatever the
number of alerts (executemany). A state change (an `alert_events` row) is
inserted once thanks to its unique constraint; INSERT … ON CONFLICT DO NOTHING
RETURNING hands back exactly the rows this notification inserted, so only the
inserter creates the deliveries and the incident, and repeats, retries and HA
peers add nothing.
Statements are built once per store: SQLAlchemy then reuses their compiled form.
Their RETURNING clauses (SQLite ≥ 3.35, PostgreSQL) save a query each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.payload import Alert, Notification
from alert_webhook.routing import Planner, Target
from alert_webhook.store.schema import (
    alert_events,
    alerts,
    deliveries,
    heartbeats,
    incidents,
    notifications,
)

NOTIFY = "notify"
# One encoder, built once: json.dumps with options builds a new one per call.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_UPDATED = (
    "status", "alertname", "severity", "labels", "annotations", "ends_at",
    "generator_url", "last_received_at", "last_notification_id",
)  # fmt: skip


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


DELIVERY_KEYS = (
    "alert_id", "event_id", "event_status", "channel", "recipient", "purpose", "status",
    "attempts", "next_attempt_at", "note", "received_at",
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
    }


class Bulk:
    """An executemany of a fixed statement that skips SQLAlchemy's per-row parameter
    processing: compiled once for the dialect, rows handed to the driver as they are."""

    def __init__(self, stmt: Any, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self.order is not None:  # qmark (SQLite): tuples in bind order
            conn.exec_driver_sql(self.sql, [tuple(r[k] for k in self.order) for r in rows])
        else:  # named (psycopg): the dicts themselves
            conn.exec_driver_sql(self.sql, rows)


class Recorder:
    def __init__(self, dialect_insert: Callable[..., Any], dialect: Dialect) -> None:
        upsert = dialect_insert(alerts)
        # A resolved alert stays resolved: a late firing copy (an HA peer, a
        # retry) must not turn it back, so only firing rows take updates.
        # RETURNING gives the ids of the rows it wrote; only rows it left alone
        # (resolved ones) need the extra SELECT.
        self.upsert_alerts = upsert.on_conflict_do_update(
            index_elements=["fingerprint", "starts_at"],
            set_={c: upsert.excluded[c] for c in _UPDATED},
            where=alerts.c.status == "firing",
        ).returning(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at)
        self.alert_ids = select(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at).where(
            alerts.c.fingerprint.in_(bindparam("fps", expanding=True))
        )
        # Only the rows it inserted come back: exactly the new state changes.
        self.insert_events = (
            dialect_insert(alert_events)
            .on_conflict_do_nothing(index_elements=["alert_id", "status"])
            .returning(alert_events.c.id, alert_events.c.alert_id, alert_events.c.status)
        )
        self.insert_notification = insert(notifications)
        self.open_incidents = Bulk(
            dialect_insert(incidents).on_conflict_do_nothing(index_elements=["alert_id"]),
            dialect,
            ("alert_id", "severity", "opened_at", "deadline_at", "tier", "reminders"),
        )
        self.close_incidents = (
            update(incidents)
            .where(incidents.c.alert_id.in_(bindparam("ids", expanding=True)))
            .values(closed_at=bindparam("now"))
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

    def record(
        self,
        conn: Connection,
        notification: Notification,
        body: bytes,
        now: float,
        planner: Planner | None,
    ) -> tuple[int, int]:
        """Store the notification; return (notification id, state changes)."""
        nid = conn.execute(
            self.insert_notification,
            {
                "received_at": now,
                "receiver": notification.receiver,
                "status": notification.status,
                "group_key": notification.groupKey,
                "alert_count": len(notification.alerts),
                "truncated_alerts": notification.truncatedAlerts,
                "body": body.decode("utf-8"),
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        heartbeat = planner.heartbeat_alertname if planner else None
        latest: dict[tuple[str, str], Alert] = {}
        for alert in notification.alerts:
            if heartbeat and alert.alertname == heartbeat:
                conn.execute(self.beat, {"name": heartbeat, "last_seen": now})
                continue
            latest[(alert.fingerprint, _iso(alert.startsAt) or "")] = alert
        if not latest:
            return nid, 0
        rows = conn.execute(self.upsert_alerts, _alert_params(latest, nid, now)).all()
        ids = {(r.fingerprint, r.starts_at): r.id for r in rows}
        if len(ids) < len(latest):
            fps = sorted({fp for key in latest if key not in ids for fp in key[:1]})
            rows = conn.execute(self.alert_ids, {"fps": fps}).all()
            ids |= {(r.fingerprint, r.starts_at): r.id for r in rows}
        by_id = {ids[key]: alert for key, alert in latest.items()}
        changes = conn.execute(
            self.insert_events,
            [
                {"alert_id": i, "status": a.status, "received_at": now, "notification_id": nid}
                for i, a in by_id.items()
            ],
        ).all()
        if planner is not None and changes:
            self._plan(conn, planner, by_id, changes, now)
        return nid, len(changes)

    def _plan(
        self,
        conn: Connection,
        planner: Planner,
        by_id: dict[int, Alert],
        changes: Sequence[Any],
        now: float,
    ) -> None:
        """Deliveries and incident bookkeeping for the state changes just inserted."""
        firing = [c for c in changes if c.status == "firing"]
        resolved = [c.alert_id for c in changes if c.status == "resolved"]
        if firing:
            self.open_incidents(
                conn,
                [
                    {
                        "alert_id": c.alert_id,
                        "severity": by_id[c.alert_id].severity,
                        "opened_at": now,
                        "deadline_at": now + planner.deadline(by_id[c.alert_id].severity),
                        "tier": 1,
                        "reminders": 0,
                    }
                    for c in firing
                ],
            )
        carried: dict[int, list[Target]] = {}
        if resolved:
            conn.execute(self.close_incidents, {"ids": resolved, "now": now})
            for r in conn.execute(self.carriers, {"ids": resolved}):
                targets = carried.setdefault(r.alert_id, [])
                if Target(r.channel, r.recipient) not in targets:
                    targets.append(Target(r.channel, r.recipient))
        rows = [
            delivery_row(c.alert_id, c.id, c.status, target, NOTIFY, now)
            for c in changes
            # A resolved message goes where the firing one went (not where it was
            # skipped); without a firing record, it is routed like a new alert.
            for target in carried.get(c.alert_id) or planner.targets(by_id[c.alert_id].labels)
        ]
        if rows:
            self.insert_deliveries(conn, rows)


def _alert_params(
    latest: dict[tuple[str, str], Alert], nid: int, now: float
) -> list[dict[str, Any]]:
    return [
        {
            "fingerprint": fp,
            "starts_at": starts_at,
            "first_received_at": now,
            "status": a.status,
            "alertname": a.alertname,
            "severity": a.severity,
            "labels": _dumps(a.labels),
            "annotations": _dumps(a.annotations),
            "ends_at": _iso(a.endsAt),
            "generator_url": a.generatorURL,
            "last_received_at": now,
            "last_notification_id": nid,
        }
        for (fp, starts_at), a in latest.items()
    ]
