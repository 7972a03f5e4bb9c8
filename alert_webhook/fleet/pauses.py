"""The fleet's pauses of automation, in the store every replica shares.

Tripping is one guarded write: the INSERT of a pause in force, which the table's
unique `in_force` lets succeed once while a pause holds. Two replicas that trip
at once both try; one row is written, the other's INSERT is refused and it reads
the winner's pause. The page is written in the winner's transaction, so a trip
and its page are committed together or not at all, and exactly one page goes.

A resume is one guarded UPDATE of the pause in force (a second resume, or one
after `resume_after` lifted it, finds none). A pause that `resume_after` lifted
is recorded so (`settle`), at the moment it was due, by whichever replica looks
first; until then every replica already treats it as lifted (`Pause.in_force`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from alert_webhook.db.schema import fleet_pauses
from alert_webhook.db.transactions import Transactions
from alert_webhook.delivery.outbox import delivery_insert
from alert_webhook.delivery.rows import NewDelivery
from alert_webhook.fleet.breaker import Pause, Trip

pauses = fleet_pauses
IN_FORCE = 1
# Who lifted a pause whose `resume_after` passed, in the record.
AUTOMATIC = "automatically (fleet.breaker.resume_after)"
# The deliveries a trip sends, given the pause just written.
Page = Callable[[Pause], Sequence[NewDelivery]]


class FleetPauses:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._insert = delivery_insert(dialect)

    def latest(self) -> Pause | None:
        """The newest pause, in force or not; None: automation never paused."""
        with self.tx.read() as conn:
            return _latest(conn)

    def list(self, limit: int = 20) -> list[Pause]:
        """Newest first."""
        with self.tx.read() as conn:
            rows = conn.execute(select(pauses).order_by(pauses.c.id.desc()).limit(limit))
            return [_pause(r) for r in rows.mappings()]

    def trip(
        self, trip: Trip, now: float, run_id: int | None, page: Page,
        resume_after: float | None = None,
    ) -> tuple[Pause, bool]:  # fmt: skip
        """Pause automation for `trip`, with its page, in one transaction: (the pause
        now in force, True) — or (the pause another replica wrote first, False), and
        then nothing was written. A pause `resume_after` lifted is recorded lifted
        first, so it does not hold the place of the new one."""
        evidence = json.dumps(trip.evidence(), sort_keys=True)
        row = {"tripped_at": now, "limit_name": trip.limit, "reason": trip.reason,
               "evidence": evidence, "run_id": run_id, "in_force": IN_FORCE}  # fmt: skip
        try:
            with self.tx.write() as conn:
                _settle(conn, now, resume_after)
                pause_id = conn.execute(
                    pauses.insert().values(row).returning(pauses.c.id)
                ).scalar_one()
                written = _pause(
                    conn.execute(select(pauses).where(pauses.c.id == pause_id)).mappings().one()
                )
                if rows := page(written):
                    self._insert(conn, list(rows))
                return written, True
        except IntegrityError:
            held = self.latest()
            if held is None:  # cannot be: the refusal was the pause in force
                raise
            return held, False

    def resume(self, by: str, now: float, resume_after: float | None = None) -> Pause | None:
        """Lift the pause in force, recording who and when; None when none was in
        force (never paused, resumed already, or lifted by `resume_after`)."""
        with self.tx.write() as conn:
            _settle(conn, now, resume_after)
            held = _latest(conn)
            if held is None or held.resumed_at is not None:
                return None
            lifted = conn.execute(
                update(pauses)
                .where(pauses.c.id == held.id, pauses.c.in_force == IN_FORCE)
                .values(in_force=None, resumed_at=now, resumed_by=by)
            ).rowcount  # fmt: skip
            if lifted != 1:
                return None
            return _pause(
                conn.execute(select(pauses).where(pauses.c.id == held.id)).mappings().one()
            )

    def settle(self, now: float, resume_after: float | None) -> bool:
        """Record a pause whose `resume_after` has passed as lifted then; True when
        this call recorded it."""
        if resume_after is None:
            return False
        with self.tx.write() as conn:
            return _settle(conn, now, resume_after)


def _settle(conn: Connection, now: float, resume_after: float | None) -> bool:
    if resume_after is None:
        return False
    due = pauses.c.tripped_at + resume_after
    lifted = conn.execute(
        update(pauses)
        .where(pauses.c.in_force == IN_FORCE, due <= now)
        .values(in_force=None, resumed_at=due, resumed_by=AUTOMATIC)
    ).rowcount  # fmt: skip
    return lifted == 1


def _latest(conn: Connection) -> Pause | None:
    row = conn.execute(select(pauses).order_by(pauses.c.id.desc()).limit(1)).mappings().first()
    return None if row is None else _pause(row)


def _pause(row: Any) -> Pause:
    return Pause(
        id=row["id"], tripped_at=row["tripped_at"], limit=row["limit_name"],
        reason=row["reason"], evidence=json.loads(row["evidence"]), run_id=row["run_id"],
        resumed_at=row["resumed_at"], resumed_by=row["resumed_by"],
    )  # fmt: skip
