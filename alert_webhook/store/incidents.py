"""Incidents: acknowledgement, response deadlines, reminders (portable SQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from alert_webhook.store.guard import Transactions
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
    def __init__(self, tx: Transactions) -> None:
        self.tx = tx

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

    def raise_tier(self, alert_id: int, tier: int, next_deadline: float) -> bool:
        """Move to `tier + 1` once; False if another replica already did."""
        with self.tx.write() as conn:
            result = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == alert_id, incidents.c.tier == tier)
                .values(tier=tier + 1, deadline_at=next_deadline)
            )
            return result.rowcount == 1

    def count_reminder(self, alert_id: int, n: int) -> bool:
        """Note reminder `n` as due; False if it (or a later one) already was."""
        with self.tx.write() as conn:
            result = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == alert_id, incidents.c.reminders < n)
                .values(reminders=n)
            )
            return result.rowcount == 1

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

    def carriers(self, alert_id: int) -> list[tuple[str, str]]:
        """Where the firing message was delivered: reminders go the same way."""
        with self.tx.read() as conn:
            rows = conn.execute(
                select(deliveries.c.channel, deliveries.c.recipient)
                .where(
                    deliveries.c.alert_id == alert_id,
                    deliveries.c.event_status == "firing",
                    deliveries.c.purpose == "notify",
                    deliveries.c.status == "delivered",
                )
                .order_by(deliveries.c.id)
            )
            return [(r.channel, r.recipient) for r in rows]

    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            select(incidents, alerts.c.alertname, alerts.c.status, alerts.c.fingerprint)
            .join(alerts, alerts.c.id == incidents.c.alert_id)
            .order_by(incidents.c.opened_at.desc())
            .limit(limit)
        )
        with self.tx.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
