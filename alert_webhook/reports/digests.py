"""The weekly noise digest's store: its rows (`digests`, one per ISO week ×
recipient), planned in one transaction and sent under a lease (db/lease.py),
as the outbox sends a delivery — so a digest is on record before anyone sends
it, is retried until the relay takes it, and leaves once whichever replicas
run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.engine import Dialect

from alert_webhook.db.bulk import insert_for
from alert_webhook.db.lease import Lease
from alert_webhook.db.schema import digests
from alert_webhook.db.transactions import Transactions


class DigestStatus(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at` (first try or a retry)
    IN_FLIGHT = "in_flight"  # claimed by a replica under a lease
    SENT = "sent"  # the relay took it
    FAILED = "failed"  # refused for good, or still unavailable when retries ran out
    SKIPPED = "skipped"  # nothing to send (no alert fired), or email is not configured


@dataclass(frozen=True)
class NewDigest:
    week: str
    recipient: str
    since: float
    until: float
    subject: str
    body: str
    status: DigestStatus = DigestStatus.PENDING
    note: str | None = None


@dataclass(frozen=True)
class DigestJob:
    """A claimed digest: only the holder of `claim` may record how it went."""

    id: int
    claim: str
    week: str
    recipient: str
    subject: str
    body: str
    attempts: int
    planned_at: float


class Digests:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._insert = insert_for(dialect)(digests).on_conflict_do_nothing()
        self.lease = Lease(
            digests, dialect, pending=DigestStatus.PENDING.value,
            in_flight=DigestStatus.IN_FLIGHT.value, due_at=digests.c.next_attempt_at,
            on_claim={"attempts": digests.c.attempts + 1},
        )  # fmt: skip

    def planned(self, week: str) -> bool:
        """Whether some replica planned this week's digest already."""
        with self.tx.read() as conn:
            return bool(conn.execute(select(exists().where(digests.c.week == week))).scalar())

    def plan(self, rows: Sequence[NewDigest], now: float) -> int:
        """Write the week's rows in one transaction; how many were new (0: another
        replica planned them first — the unique key lets one set in)."""
        if not rows:
            return 0
        values = [
            {
                "week": r.week, "recipient": r.recipient, "since": r.since, "until": r.until,
                "subject": r.subject, "body": r.body, "status": r.status.value, "attempts": 0,
                "next_attempt_at": now, "note": r.note, "planned_at": now,
                "finished_at": None if r.status == DigestStatus.PENDING else now,
            }
            for r in rows
        ]  # fmt: skip
        with self.tx.write() as conn:
            return max(conn.execute(self._insert, values).rowcount, 0)

    def claim(self, now: float, worker: str, seconds: float, limit: int) -> list[DigestJob]:
        claim = Lease.new_claim(worker)
        with self.tx.write() as conn:
            if not self.lease.claim(conn, now, claim, seconds, limit):
                return []
            rows = conn.execute(
                select(digests.c.id, digests.c.week, digests.c.recipient, digests.c.subject,
                       digests.c.body, digests.c.attempts, digests.c.planned_at)
                .where(digests.c.claimed_by == claim,
                       digests.c.status == DigestStatus.IN_FLIGHT.value)
                .order_by(digests.c.id)
            ).all()  # fmt: skip
        return [DigestJob(r.id, claim, r.week, r.recipient, r.subject, r.body, r.attempts,
                          r.planned_at) for r in rows]  # fmt: skip

    def finish(
        self, job: DigestJob, status: DigestStatus, at: float, provider: str | None = None,
        note: str | None = None, error: str | None = None,
    ) -> bool:  # fmt: skip
        """Record a final state; False when our lease was lost (nothing written)."""
        values: dict[str, Any] = {
            "status": status.value, "finished_at": at, "claimed_until": None,
            "provider": provider, "note": note,
        }  # fmt: skip
        if error is not None:
            values["last_error"] = error
        with self.tx.write() as conn:
            return self.lease.update_owned(conn, job.id, job.claim, values)

    def retry_later(self, job: DigestJob, at: float, error: str) -> bool:
        values = {"status": DigestStatus.PENDING.value, "next_attempt_at": at,
                  "claimed_until": None, "last_error": error}  # fmt: skip
        with self.tx.write() as conn:
            return self.lease.update_owned(conn, job.id, job.claim, values)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, without the body."""
        columns = [c for c in digests.c if c.name != "body"]
        with self.tx.read() as conn:
            rows = conn.execute(select(*columns).order_by(digests.c.id.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]
