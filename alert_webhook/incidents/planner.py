"""The incident planner: opens an incident with each firing state change, in its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import Bulk, insert_for
from alert_webhook.db.schema import incidents
from alert_webhook.ingest.planners import PerDialect, StateChange, Tally


class IncidentPlanner:
    """A firing alert opens an incident with the severity's response deadline; its
    resolution closes it."""

    def __init__(self, deadlines: Mapping[str, float]) -> None:
        self.deadlines = dict(deadlines)
        self._statements = PerDialect()

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
