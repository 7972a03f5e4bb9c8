"""Follow-ups of a closed incident: notes operators add from its post-incident
report — what to change so it does not happen again — kept in the store and
written into the report (reports/report.py). Keyed by the incident's id as the
console names it: the alert that opened its episode."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from alert_webhook.db.schema import follow_ups
from alert_webhook.db.transactions import Transactions

MAX_NOTE = 1000


@dataclass(frozen=True)
class FollowUp:
    id: int
    incident_id: int
    note: str
    added_by: str
    added_at: float


def of_incident(conn: Connection, incident_id: int) -> list[FollowUp]:
    """The incident's follow-ups, oldest first."""
    query = (
        select(follow_ups)
        .where(follow_ups.c.incident_id == incident_id)
        .order_by(follow_ups.c.added_at, follow_ups.c.id)
    )
    return [FollowUp(**r) for r in conn.execute(query).mappings()]


class FollowUps:
    def __init__(self, tx: Transactions) -> None:
        self.tx = tx

    def add(self, incident_id: int, note: str, by: str, now: float) -> FollowUp:
        """Store one note (already checked: one line, at most MAX_NOTE characters)."""
        row = {"incident_id": incident_id, "note": note, "added_by": by, "added_at": now}
        with self.tx.write() as conn:
            new_id = conn.execute(insert(follow_ups).values(**row).returning(follow_ups.c.id))
            return FollowUp(int(new_id.scalar_one()), incident_id, note, by, now)

    def list(self, incident_id: int) -> list[FollowUp]:
        with self.tx.read() as conn:
            return of_incident(conn, incident_id)
