"""Which backend each failover service is on, in the store every replica shares.

A switch is claimed before it happens and recorded after it: `claim` is one
guarded UPDATE that succeeds only when the service is still on the backend the
caller saw and nobody else is switching it (or their claim ran out), so the
failover action and the switch-back duty, on any replica, never switch one
service twice at once. `switched` writes the new backend only under that claim;
`release` gives the claim back when the mechanism failed, leaving the backend
as it was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import RowMapping, or_, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import insert_for
from alert_webhook.db.schema import failover_state
from alert_webhook.db.transactions import Transactions

state = failover_state
# The reason on the row a first claim creates for a service never switched before.
NEVER_SWITCHED = "the primary: never switched"


@dataclass(frozen=True)
class FailoverState:
    service: str
    active: str
    since: float
    reason: str
    primary_healthy_since: float | None
    switching_until: float | None


class FailoverStates:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx, self._insert = tx, insert_for(dialect)

    def get(self, service: str) -> FailoverState | None:
        with self.tx.read() as conn:
            row = conn.execute(select(state).where(state.c.service == service)).mappings().first()
        return _state(row) if row else None

    def all(self) -> list[FailoverState]:
        with self.tx.read() as conn:
            rows = conn.execute(select(state).order_by(state.c.service)).mappings().all()
        return [_state(row) for row in rows]

    def claim(
        self, service: str, active: str, primary: str, now: float, until: float, by: str
    ) -> bool:
        """Take the right to switch `service`, which the caller saw on `active`
        (`primary` is what a service with no row is on)."""
        with self.tx.write() as conn:
            self._ensure(conn, service, primary, now)
            claimed = conn.execute(
                update(state)
                .where(
                    state.c.service == service,
                    state.c.active == active,
                    or_(state.c.switching_until.is_(None), state.c.switching_until <= now),
                )
                .values(switching_until=until, switching_by=by)
            )
            return claimed.rowcount == 1

    def switched(self, service: str, to: str, now: float, reason: str, by: str) -> bool:
        """Record `to` as active, under the caller's claim; False if it was lost."""
        with self.tx.write() as conn:
            done = conn.execute(
                update(state)
                .where(state.c.service == service, state.c.switching_by == by)
                .values(
                    active=to,
                    since=now,
                    reason=reason,
                    primary_healthy_since=None,
                    switching_until=None,
                    switching_by=None,
                )  # fmt: skip
            )
            return done.rowcount == 1

    def release(self, service: str, by: str) -> None:
        """Give the claim back: the switch did not happen."""
        with self.tx.write() as conn:
            conn.execute(
                update(state)
                .where(state.c.service == service, state.c.switching_by == by)
                .values(switching_until=None, switching_by=None)
            )

    def primary_health(self, service: str, healthy: bool, now: float) -> float | None:
        """Note one health check of the primary of a service that is off it: since
        when it has passed without a break (kept from the first pass), or None
        (a failure breaks the run)."""
        since = now if healthy else None
        with self.tx.write() as conn:
            query = update(state).where(state.c.service == service)
            if healthy:
                query = query.where(state.c.primary_healthy_since.is_(None))
            conn.execute(query.values(primary_healthy_since=since))
            found = conn.execute(
                select(state.c.primary_healthy_since).where(state.c.service == service)
            ).scalar()
        return float(found) if found is not None else None

    def _ensure(self, conn: Connection, service: str, primary: str, now: float) -> None:
        conn.execute(
            self._insert(state)
            .values(service=service, active=primary, since=now, reason=NEVER_SWITCHED)
            .on_conflict_do_nothing()
        )


def _state(row: RowMapping) -> FailoverState:
    return FailoverState(
        row["service"], row["active"], row["since"], row["reason"],
        row["primary_healthy_since"], row["switching_until"],
    )  # fmt: skip
