"""Incidents: acknowledgement, response deadlines, reminders (portable SQL).

Each follow-up (a tier raised, a reminder) is one transaction: the guarded
UPDATE that says "this replica does it", the deliveries it sends and the flag it
leaves. A replica that loses the race writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Dialect

from alert_webhook.routing import Target
from alert_webhook.store.guard import Transactions
from alert_webhook.store.outbox import (
    Failover,
    delivery_insert,
    flag_incident,
    routed_channels,
)
from alert_webhook.store.rows import DeliveryStatus, NewDelivery, Purpose
from alert_webhook.store.schema import alert_events, alerts, deliveries, incidents


@dataclass(frozen=True)
class OpenIncident:
    alert_id: int
    event_id: int
    severity: str
    opened_at: float
    tier: int
    labels: dict[str, str]


class Incidents:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._insert = delivery_insert(dialect)

    def _open(self, *where: Any) -> list[OpenIncident]:
        query = (
            select(incidents, alert_events.c.id.label("event_id"), alerts.c.labels)
            .join(alerts, alerts.c.id == incidents.c.alert_id)
            .join(
                alert_events,
                (alert_events.c.alert_id == incidents.c.alert_id)
                & (alert_events.c.status == "firing"),
            )
            .where(incidents.c.closed_at.is_(None), incidents.c.acked_at.is_(None), *where)
        )
        with self.tx.read() as conn:
            return [
                OpenIncident(
                    r.alert_id, r.event_id, r.severity, r.opened_at, r.tier, json.loads(r.labels)
                )
                for r in conn.execute(query)
            ]

    def past_deadline(self, now: float, tier: int) -> list[OpenIncident]:
        return self._open(incidents.c.deadline_at <= now, incidents.c.tier == tier)

    def unacknowledged(self, severity: str) -> list[OpenIncident]:
        return self._open(incidents.c.severity == severity)

    def escalate(
        self, incident: OpenIncident, next_deadline: float, flag: str, failover: Failover
    ) -> bool:
        """Move the incident to the next tier once, sending the deliveries `failover`
        picks from the channels its alert was routed to; False if another replica
        already did."""
        with self.tx.write() as conn:
            raised = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == incident.alert_id, incidents.c.tier == incident.tier)
                .values(tier=incident.tier + 1, deadline_at=next_deadline)
            )
            if raised.rowcount != 1:
                return False
            rows = failover(routed_channels(conn, incident.alert_id))
            if rows:
                self._insert(conn, rows)
            flag_incident(conn, incident.alert_id, flag)
            return True

    def remind(
        self,
        incident: OpenIncident,
        n: int,
        deliveries_to: Callable[[list[Target]], list[NewDelivery]],
    ) -> bool:
        """Send reminder `n` once, through `deliveries_to(where the firing message was
        delivered)`; False if it (or a later one) was already sent."""
        with self.tx.write() as conn:
            counted = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == incident.alert_id, incidents.c.reminders < n)
                .values(reminders=n)
            )
            if counted.rowcount != 1:
                return False
            reached = conn.execute(
                select(deliveries.c.channel, deliveries.c.recipient)
                .where(
                    deliveries.c.alert_id == incident.alert_id,
                    deliveries.c.event_status == "firing",
                    deliveries.c.purpose == Purpose.NOTIFY,
                    deliveries.c.status == DeliveryStatus.DELIVERED,
                )
                .order_by(deliveries.c.id)
            )
            rows = deliveries_to([Target(r.channel, r.recipient) for r in reached])
            if rows:
                self._insert(conn, rows)
            return True

    def ack(self, alert_id: int, by: str, now: float) -> dict[str, Any] | None:
        """Acknowledge; None when there is no such incident. Idempotent."""
        with self.tx.write() as conn:
            conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == alert_id, incidents.c.acked_at.is_(None))
                .values(acked_at=now, acked_by=by)
            )
            row = (
                conn.execute(select(incidents).where(incidents.c.alert_id == alert_id))
                .mappings()
                .first()
            )
            return dict(row) if row else None

    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            select(incidents, alerts.c.alertname, alerts.c.status, alerts.c.fingerprint)
            .join(alerts, alerts.c.id == incidents.c.alert_id)
            .order_by(incidents.c.opened_at.desc())
            .limit(limit)
        )
        with self.tx.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
