"""Recording one notification: alerts, their state changes, deliveries, incidents.

All inside the caller's transaction. A state change (an `alert_events` row) is
inserted once thanks to its unique constraint; only the inserter creates the
deliveries and the incident, so repeats, retries and HA peers add nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

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


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


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


def record(
    conn: Connection,
    dialect_insert: Callable[..., Any],
    notification: Notification,
    body: bytes,
    now: float,
    planner: Planner | None,
) -> tuple[int, int]:
    """Store the notification; return (notification id, state changes)."""
    notification_id = conn.execute(
        insert(notifications).values(
            received_at=now,
            receiver=notification.receiver,
            status=notification.status,
            group_key=notification.groupKey,
            alert_count=len(notification.alerts),
            truncated_alerts=notification.truncatedAlerts,
            body=body.decode("utf-8"),
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    heartbeat = planner.heartbeat_alertname if planner else None
    latest: dict[tuple[str, str], Alert] = {}
    for alert in notification.alerts:
        if heartbeat and alert.alertname == heartbeat:
            _beat(conn, dialect_insert, heartbeat, now)
            continue
        latest[(alert.fingerprint, _iso(alert.startsAt) or "")] = alert
    if not latest:
        return notification_id, 0
    _upsert_alerts(conn, dialect_insert, latest, notification_id, now)
    ids = _alert_ids(conn, latest)
    changes = 0
    rows: list[dict[str, Any]] = []
    for key, alert in latest.items():
        alert_id = ids[key]
        event_id = conn.execute(
            dialect_insert(alert_events)
            .values(
                alert_id=alert_id,
                status=alert.status,
                received_at=now,
                notification_id=notification_id,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "status"])
            .returning(alert_events.c.id)
        ).scalar()
        if event_id is None:
            continue
        changes += 1
        if planner is not None:
            rows += _on_change(conn, dialect_insert, planner, alert, alert_id, event_id, now)
    if rows:
        conn.execute(dialect_insert(deliveries).on_conflict_do_nothing(), rows)
    return notification_id, changes


def _beat(conn: Connection, dialect_insert: Callable[..., Any], name: str, now: float) -> None:
    stmt = dialect_insert(heartbeats).values(name=name, last_seen=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"last_seen": now}))


def _upsert_alerts(
    conn: Connection,
    dialect_insert: Callable[..., Any],
    latest: dict[tuple[str, str], Alert],
    notification_id: int,
    now: float,
) -> None:
    params = [
        {
            "fingerprint": fp,
            "starts_at": starts_at,
            "first_received_at": now,
            "status": a.status,
            "alertname": a.alertname,
            "severity": a.severity,
            "labels": json.dumps(a.labels, sort_keys=True),
            "annotations": json.dumps(a.annotations, sort_keys=True),
            "ends_at": _iso(a.endsAt),
            "generator_url": a.generatorURL,
            "last_received_at": now,
            "last_notification_id": notification_id,
        }
        for (fp, starts_at), a in latest.items()
    ]
    stmt = dialect_insert(alerts)
    updated = (
        "status", "alertname", "severity", "labels", "annotations", "ends_at",
        "generator_url", "last_received_at", "last_notification_id",
    )  # fmt: skip
    # A resolved alert stays resolved: a late firing copy (an HA peer, a retry)
    # must not turn it back, so only firing rows take updates.
    stmt = stmt.on_conflict_do_update(
        index_elements=["fingerprint", "starts_at"],
        set_={c: stmt.excluded[c] for c in updated},
        where=alerts.c.status == "firing",
    )
    conn.execute(stmt, params)


def _alert_ids(
    conn: Connection, latest: dict[tuple[str, str], Alert]
) -> dict[tuple[str, str], int]:
    fingerprints = sorted({fp for fp, _ in latest})
    rows = conn.execute(
        select(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at).where(
            alerts.c.fingerprint.in_(fingerprints)
        )
    )
    return {
        (r.fingerprint, r.starts_at): r.id for r in rows if (r.fingerprint, r.starts_at) in latest
    }


def _on_change(
    conn: Connection,
    dialect_insert: Callable[..., Any],
    planner: Planner,
    alert: Alert,
    alert_id: int,
    event_id: int,
    now: float,
) -> list[dict[str, Any]]:
    """Deliveries (and incident bookkeeping) for one new state change."""
    if alert.status == "firing":
        conn.execute(
            dialect_insert(incidents)
            .values(
                alert_id=alert_id,
                severity=alert.severity,
                opened_at=now,
                deadline_at=now + planner.deadline(alert.severity),
                tier=1,
            )
            .on_conflict_do_nothing(index_elements=["alert_id"])
        )
        targets = planner.targets(alert.labels)
    else:
        conn.execute(
            update(incidents).where(incidents.c.alert_id == alert_id).values(closed_at=now)
        )
        targets = _carriers_of_firing(conn, alert_id) or planner.targets(alert.labels)
    return [delivery_row(alert_id, event_id, alert.status, t, NOTIFY, now) for t in targets]


def _carriers_of_firing(conn: Connection, alert_id: int) -> list[Target]:
    """A resolved message goes where the firing one went (not where it was skipped)."""
    rows = conn.execute(
        select(deliveries.c.channel, deliveries.c.recipient)
        .where(
            deliveries.c.alert_id == alert_id,
            deliveries.c.event_status == "firing",
            deliveries.c.purpose == NOTIFY,
            deliveries.c.status != "skipped",
        )
        .order_by(deliveries.c.id)
    )
    return list(dict.fromkeys(Target(r.channel, r.recipient) for r in rows))
