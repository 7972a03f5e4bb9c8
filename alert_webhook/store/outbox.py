"""The delivery outbox: claim due deliveries under a lease, finish them, enqueue more.

A worker owns a delivery only while `claimed_by` is its claim token and `claimed_until`
lies ahead; every claim and every finish is an UPDATE guarded by those columns
and checked by rowcount, so replicas sharing the store never both send one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, null, or_, select, update
from sqlalchemy.engine import Dialect

from alert_webhook.store.bulk import Bulk, Statement
from alert_webhook.store.guard import Transactions
from alert_webhook.store.schema import alerts, deliveries, heartbeats, incidents

PENDING, IN_FLIGHT = "pending", "in_flight"
DELIVERED, FAILED, SKIPPED, ESCALATED = "delivered", "failed", "skipped", "escalated"
FINAL = (DELIVERED, FAILED, SKIPPED, ESCALATED)


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery with what its message needs to say."""

    id: int
    claim: str  # the lease token: only its holder may record the outcome
    alert_id: int
    event_id: int
    event_status: str
    channel: str
    recipient: str
    purpose: str
    attempts: int
    received_at: float
    note: str | None
    alertname: str
    severity: str
    fingerprint: str
    starts_at: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str


def _due(now: Any) -> Any:
    return or_(
        and_(deliveries.c.status == PENDING, deliveries.c.next_attempt_at <= now),
        and_(deliveries.c.status == IN_FLIGHT, deliveries.c.claimed_until < now),
    )


_JOB_KEYS = (
    "id", "alert_id", "event_id", "event_status", "channel", "recipient", "purpose", "attempts",
    "received_at", "note", "alertname", "severity", "fingerprint", "starts_at", "generator_url",
)  # fmt: skip


class Outbox:
    def __init__(
        self, tx: Transactions, dialect_insert: Callable[..., Any], dialect: Dialect
    ) -> None:
        self.tx = tx
        self._insert = dialect_insert
        # Built once (SQLAlchemy then reuses their compiled form): the worker runs
        # them on every pass.
        now: Any = bindparam("c_now")
        due = (
            select(deliveries.c.id)
            .where(_due(now))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(bindparam("c_limit"))
        )
        self._claim_stmt = Statement(
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()), _due(now))
            .values(
                status=IN_FLIGHT,
                claimed_by=bindparam("c_claim"),
                claimed_until=bindparam("c_until"),
                attempts=deliveries.c.attempts + 1,
            ),
            dialect,
        )
        self._claimed_stmt = Statement(
            select(
                deliveries,
                alerts.c.alertname,
                alerts.c.severity,
                alerts.c.fingerprint,
                alerts.c.starts_at,
                alerts.c.labels,
                alerts.c.annotations,
                alerts.c.generator_url,
            )  # fmt: skip
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(
                deliveries.c.claimed_by == bindparam("c_claim"), deliveries.c.status == IN_FLIGHT
            )
            .order_by(deliveries.c.id),
            dialect,
        )
        self._backlog_stmt = select(func.count(), func.min(deliveries.c.received_at)).where(
            deliveries.c.status.in_((PENDING, IN_FLIGHT))
        )
        self._finish_many = Bulk(
            update(deliveries)
            .where(
                deliveries.c.id == bindparam("b_id"),
                deliveries.c.claimed_by == bindparam("b_claim"),
                deliveries.c.status == literal_column(f"'{IN_FLIGHT}'"),
            )
            .values(
                status=bindparam("b_status"),
                finished_at=bindparam("b_at"),
                claimed_until=null(),
                provider=func.coalesce(bindparam("b_provider"), deliveries.c.provider),
                note=func.coalesce(bindparam("b_note"), deliveries.c.note),
            ),
            dialect,
            ("b_id", "b_claim", "b_status", "b_at", "b_provider", "b_note"),
        )

    def claim(self, now: float, worker: str, lease: float, limit: int) -> list[DeliveryJob]:
        """Take up to `limit` due deliveries (pending, or in flight past their lease)."""
        # One guarded UPDATE for the batch; the token says which rows we won.
        claim = f"{worker}:{uuid.uuid4().hex[:12]}"
        with self.tx.write() as conn:
            won = self._claim_stmt.rowcount(
                conn, {"c_now": now, "c_limit": limit, "c_claim": claim, "c_until": now + lease}
            )
            if not won:
                return []
            rows = self._claimed_stmt.mappings(conn, {"c_claim": claim})
            return [
                DeliveryJob(
                    claim=claim,
                    **{k: r[k] for k in _JOB_KEYS},
                    labels=json.loads(r["labels"]),
                    annotations=json.loads(r["annotations"]),
                )
                for r in rows
            ]

    def finish(
        self, job_id: int, claim: str, status: str, now: float, provider: str | None = None,
        note: str | None = None, error: str | None = None,
    ) -> bool:  # fmt: skip
        """Record a final state; False when our lease was lost to another worker."""
        assert status in FINAL
        values: dict[str, Any] = {"status": status, "finished_at": now, "claimed_until": None}
        values |= {
            k: v for k, v in (("provider", provider), ("note", note), ("last_error", error)) if v
        }
        return self._owned_update(job_id, claim, values)

    def finish_many(self, items: list[dict[str, Any]]) -> int:
        """Record several final states in one transaction (outcomes with no outside
        effect, e.g. a dashboard delivery or a skip); returns how many we still owned."""
        if not items:
            return 0
        with self.tx.write() as conn:
            return max(self._finish_many(conn, items), 0)

    def reschedule(
        self, job_id: int, claim: str, at: float, error: str | None, refund_attempt: bool = False
    ) -> bool:
        values: dict[str, Any] = {"status": PENDING, "next_attempt_at": at, "claimed_until": None}
        if error:
            values["last_error"] = error
        if refund_attempt:  # waiting for an open breaker is not a try
            values["attempts"] = deliveries.c.attempts - 1
        return self._owned_update(job_id, claim, values)

    def _owned_update(self, job_id: int, claim: str, values: dict[str, Any]) -> bool:
        with self.tx.write() as conn:
            result = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == job_id,
                    deliveries.c.status == IN_FLIGHT,
                    deliveries.c.claimed_by == claim,
                )
                .values(**values)
            )
            return result.rowcount == 1

    def enqueue(self, rows: Iterable[dict[str, Any]]) -> int:
        rows = list(rows)
        if not rows:
            return 0
        with self.tx.write() as conn:
            result = conn.execute(self._insert(deliveries).on_conflict_do_nothing(), rows)
            return max(result.rowcount, 0)

    def counterpart_status(self, job: DeliveryJob) -> str | None:
        """Status of the firing message this resolved message follows on its channel."""
        with self.tx.read() as conn:
            return conn.execute(
                select(deliveries.c.status).where(
                    deliveries.c.alert_id == job.alert_id,
                    deliveries.c.event_status == "firing",
                    deliveries.c.purpose == job.purpose,
                    deliveries.c.channel == job.channel,
                    deliveries.c.recipient == job.recipient,
                )
            ).scalar()

    def channels_of(self, alert_id: int) -> list[str]:
        with self.tx.read() as conn:
            rows = conn.execute(
                select(deliveries.c.channel)
                .where(deliveries.c.alert_id == alert_id)
                .order_by(deliveries.c.id)
            ).scalars()
            return list(dict.fromkeys(rows))

    def sent_since(
        self, channel: str, recipient: str, since: float, purpose: str | None = None
    ) -> int:
        query = select(func.count()).where(
            deliveries.c.channel == channel,
            deliveries.c.recipient == recipient,
            deliveries.c.status == DELIVERED,
            deliveries.c.finished_at >= since,
        )
        if purpose is not None:
            query = query.where(deliveries.c.note == purpose)
        with self.tx.read() as conn:
            return int(conn.execute(query).scalar_one())

    def flag_incident(self, alert_id: int, flag: str) -> None:
        with self.tx.write() as conn:
            conn.execute(
                update(incidents).where(incidents.c.alert_id == alert_id).values(flag=flag)
            )

    def backlog(self, now: float) -> tuple[int, float]:
        """Deliveries not yet final, and the age of the oldest one."""
        with self.tx.read() as conn:
            count, oldest = conn.execute(self._backlog_stmt).one()
        return int(count), (now - oldest) if oldest is not None else 0.0

    def list(self, alert_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if alert_id is not None:
            query = query.where(deliveries.c.alert_id == alert_id)
        with self.tx.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_heartbeat(self, name: str) -> float | None:
        with self.tx.read() as conn:
            return conn.execute(
                select(heartbeats.c.last_seen).where(heartbeats.c.name == name)
            ).scalar()
