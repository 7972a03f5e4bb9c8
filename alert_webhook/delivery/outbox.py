"""The delivery outbox: claim due deliveries under a lease, finish them, fail them over.

The lease (`db/lease.py`) decides who sends a delivery: every claim and every
finish is an UPDATE guarded by the claim token, so replicas sharing the store
never both send one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, null, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.bulk import CHUNK, Bulk, Returning, Rows, Statement, insert_for
from alert_webhook.db.lease import EVERY_ROW, Among, Lease
from alert_webhook.db.schema import (
    UNRANKED,
    UNSETTLED,
    alerts,
    deliveries,
    incidents,
    severity_rank,
)
from alert_webhook.db.transactions import Transactions
from alert_webhook.delivery.rows import (
    DELIVERY_COLUMNS,
    DeliveryOutcome,
    DeliveryStatus,
    NewDelivery,
)

# Plain strings in statements: the driver binds them without an adapter lookup.
PENDING, IN_FLIGHT = DeliveryStatus.PENDING.value, DeliveryStatus.IN_FLIGHT.value
# Given the channels an alert was routed to, the deliveries that carry it instead.
Failover = Callable[[list[str]], list[NewDelivery]]


@dataclass(frozen=True)
class Lane:
    """Which deliveries one worker claims: those on `channels`, or, with `others`, those
    on every channel but these."""

    name: str
    channels: tuple[str, ...] = ()
    others: bool = False

    @property
    def among(self) -> Among:
        if not self.channels:
            return EVERY_ROW
        return Among("channel", tuple(sorted(self.channels)), exclude=self.others)


ALL_CHANNELS = Lane("deliveries")


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


_JOB_KEYS = (
    "id", "alert_id", "event_id", "event_status", "channel", "recipient", "purpose", "attempts",
    "received_at", "note", "alertname", "severity", "fingerprint", "starts_at", "generator_url",
)  # fmt: skip


class DeliveryInsert(Bulk):
    """INSERT of `NewDelivery` rows; the unique key makes every replica add each once.
    Each row is written with its alert's severity rank (schema.SEVERITY_ORDER), read
    from the alerts in one query per call: whoever plans a message (a state change,
    a reminder, an escalation, a failover) needs to know nothing of claim order."""

    def __init__(self, dialect: Dialect) -> None:
        stmt = insert_for(dialect)(deliveries).on_conflict_do_nothing()
        keys = (*DELIVERY_COLUMNS, "severity_rank")
        super().__init__(stmt, dialect, keys)
        d = deliveries.c
        self._returning = Returning(
            stmt.returning(d.id, d.event_id, d.channel, d.recipient, d.purpose), dialect, keys
        )

    def __call__(self, conn: Connection, rows: Rows, ranks: Mapping[int, int] | None = None) -> int:
        """Insert `rows`; `ranks`: their alerts' severity ranks by alert id, when the
        caller has them at hand (the planner), else they are read."""
        return super().__call__(conn, self._ranked(conn, rows, ranks))

    def with_ids(
        self, conn: Connection, rows: Rows, ranks: Mapping[int, int] | None = None
    ) -> dict[tuple[int, str, str, str], int]:
        """Insert `rows` as `__call__` does; the ids of those it inserted, by their
        unique key (event id, channel, recipient, purpose)."""
        return {(e, c, r, p): i for i, e, c, r, p in self._returning(
            conn, self._ranked(conn, rows, ranks))}  # fmt: skip

    @staticmethod
    def _ranked(
        conn: Connection, rows: Rows, ranks: Mapping[int, int] | None
    ) -> list[tuple[object, ...]]:
        # NewDelivery rows are tuples already (a tuple check is cheap; Mapping's is not).
        tuples = [tuple(r[k] for k in DELIVERY_COLUMNS)
                  if not isinstance(r, tuple) and isinstance(r, Mapping) else r
                  for r in rows]  # fmt: skip
        if ranks is None:
            ranks = _severity_ranks(conn, {r[0] for r in tuples})  # alert_id is the first
        return [(*r, ranks.get(r[0], UNRANKED)) for r in tuples]


def _severity_ranks(conn: Connection, alert_ids: set[int]) -> dict[int, int]:
    ids, ranks = sorted(alert_ids), dict[int, int]()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        ranks.update((row[0], row[1]) for row in conn.execute(_RANKS, {"ids": chunk}))
    return ranks


_RANKS = select(alerts.c.id, severity_rank(alerts.c.severity)).where(
    alerts.c.id.in_(bindparam("ids", expanding=True))
)


def delivery_insert(dialect: Dialect) -> DeliveryInsert:
    """The INSERT of `NewDelivery` rows (DeliveryInsert)."""
    return DeliveryInsert(dialect)


def routed_channels(conn: Connection, alert_id: int) -> list[str]:
    """The channels an alert's deliveries went to, in the order they were created."""
    rows = conn.execute(
        select(deliveries.c.channel)
        .where(deliveries.c.alert_id == alert_id)
        .order_by(deliveries.c.id)
    ).scalars()
    return list(dict.fromkeys(rows))


def flag_incident(conn: Connection, alert_id: int, flag: str) -> None:
    conn.execute(update(incidents).where(incidents.c.alert_id == alert_id).values(flag=flag))


class Outbox:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self.lease = Lease(
            deliveries, dialect, pending=PENDING, in_flight=IN_FLIGHT,
            due_at=deliveries.c.next_attempt_at, on_claim={"attempts": deliveries.c.attempts + 1},
            due_among=UNSETTLED, rank=deliveries.c.severity_rank, ranks=range(UNRANKED + 1),
        )  # fmt: skip
        self._insert = delivery_insert(dialect)
        self._claimed = Statement(
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
                deliveries.c.claimed_by == bindparam("c_claim"),
                deliveries.c.status == IN_FLIGHT,
                UNSETTLED,
            )
            # The most urgent first, then as they were made: an alert's firing
            # message before its resolved one (which waits for it otherwise).
            .order_by(deliveries.c.severity_rank, deliveries.c.id),
            dialect,
        )
        self._backlog = select(func.count(), func.min(deliveries.c.received_at)).where(
            deliveries.c.status.in_((PENDING, IN_FLIGHT)), UNSETTLED
        )
        # Bind names are the DeliveryOutcome's fields with `b_` before them: SQLAlchemy keeps
        # the bare column names for the SET clause.
        self._finish = Bulk(
            update(deliveries)
            .where(self.lease.owned(bindparam("b_delivery_id"), bindparam("b_claim")))
            .values(
                status=bindparam("b_status"),
                finished_at=bindparam("b_at"),
                claimed_until=null(),
                provider=func.coalesce(bindparam("b_provider"), deliveries.c.provider),
                note=func.coalesce(bindparam("b_note"), deliveries.c.note),
                last_error=func.coalesce(bindparam("b_error"), deliveries.c.last_error),
            ),
            dialect,
            ("b_delivery_id", "b_claim", "b_status", "b_at", "b_provider", "b_note", "b_error"),
        )

    def claim(
        self, now: float, worker: str, lease: float, limit: int, lane: Lane = ALL_CHANNELS
    ) -> list[DeliveryJob]:
        """Take up to `limit` due deliveries (pending, or in flight past their lease)
        on the lane's channels."""
        claim = Lease.new_claim(worker)
        with self.tx.write() as conn:
            if not self.lease.claim(conn, now, claim, lease, limit, lane.among):
                return []
            rows = self._claimed.mappings(conn, {"c_claim": claim})
        return [
            DeliveryJob(
                claim=claim,
                **{k: r[k] for k in _JOB_KEYS},
                labels=json.loads(r["labels"]),
                annotations=json.loads(r["annotations"]),
            )
            for r in rows
        ]

    def finish(self, outcome: DeliveryOutcome) -> bool:
        """Record one final state at once; False when our lease was lost."""
        return self.finish_many([outcome]) == 1

    def finish_many(self, outcomes: Sequence[DeliveryOutcome]) -> int:
        """Record final states in one transaction; returns how many we still owned."""
        if not outcomes:
            return 0
        rows = [
            (o.delivery_id, o.claim, o.status.value, o.at, o.provider or None, o.note, o.error)
            for o in outcomes
        ]
        with self.tx.write() as conn:
            return max(self._finish(conn, rows), 0)

    def retry_later(
        self, job: DeliveryJob, at: float, error: str | None, refund_attempt: bool = False
    ) -> bool:
        """Back to pending until `at`; `refund_attempt` when no provider was really tried."""
        values: dict[str, Any] = {"status": PENDING, "next_attempt_at": at, "claimed_until": None}
        if error:
            values["last_error"] = error
        if refund_attempt:
            values["attempts"] = deliveries.c.attempts - 1
        with self.tx.write() as conn:
            return self.lease.update_owned(conn, job.id, job.claim, values)

    def escalate(
        self, job: DeliveryJob, at: float, error: str, flag: str, failover: Failover
    ) -> DeliveryStatus | None:
        """Give up on `job` and hand its alert to the deliveries `failover` picks from
        the channels it was routed to, flagging the incident: one transaction. Returns
        the job's final state (escalated, or failed when nothing can carry it), or
        None when the lease was lost (and then nothing was written)."""
        with self.tx.write() as conn:
            rows = failover(routed_channels(conn, job.alert_id))
            status = DeliveryStatus.ESCALATED if rows else DeliveryStatus.FAILED
            values = {"status": status, "finished_at": at, "claimed_until": None,
                      "last_error": error}  # fmt: skip
            if not self.lease.update_owned(conn, job.id, job.claim, values):
                return None
            if rows:
                self._insert(conn, rows)
            flag_incident(conn, job.alert_id, flag)
            return status

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

    def sent_times(
        self, channel: str, recipient: str, since: float
    ) -> list[tuple[float, str | None]]:
        """When each message delivered to `recipient` on `channel` since then was
        delivered, oldest first, with its note (e.g. the storm digest's)."""
        query = (
            select(deliveries.c.finished_at, deliveries.c.note)
            .where(
                deliveries.c.channel == channel,
                deliveries.c.recipient == recipient,
                deliveries.c.status == DeliveryStatus.DELIVERED,
                deliveries.c.finished_at >= since,
            )
            .order_by(deliveries.c.finished_at)
        )
        with self.tx.read() as conn:
            return [(float(at), note) for at, note in conn.execute(query)]

    def backlog(self, now: float) -> tuple[int, float]:
        """Deliveries not yet final, and the age of the oldest one."""
        with self.tx.read() as conn:
            count, oldest = conn.execute(self._backlog).one()
        return int(count), (now - oldest) if oldest is not None else 0.0

    def list(self, alert_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if alert_id is not None:
            query = query.where(deliveries.c.alert_id == alert_id)
        with self.tx.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
