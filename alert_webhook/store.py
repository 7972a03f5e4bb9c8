"""The composite store: every feature's repository over one engine (`db/`),
SQLite in WAL mode by default, PostgreSQL for scale-out — `outbox` (delivery),
`incidents` with their `follow_ups`, `flapping`, `runs` (remediation), `recovery`,
`reports`, `noise`, `digests` and `response` (reports), `fleet` (the fleet breaker's pauses),
`drills` (recovery drills) — and the alerts themselves.

`record_many` commits notifications whole, in one transaction, or nothing of
them; only after it returns may the webhook answer 2xx.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from alert_webhook.db.deadlines import wait_limit
from alert_webhook.db.engine import StoreLimits, open_engine
from alert_webhook.db.ping import BoundedPing
from alert_webhook.db.schema import BACKFILLS, alerts, heartbeats, metadata
from alert_webhook.db.transactions import Transactions, as_store_unavailable
from alert_webhook.db.upgrade import StoreOutdated, bring_up_to_date
from alert_webhook.delivery.outbox import Outbox
from alert_webhook.drills.store import Drills
from alert_webhook.fleet.pauses import FleetPauses
from alert_webhook.incidents.flapping_end import FlappingEpisodes
from alert_webhook.incidents.follow_ups import FollowUps
from alert_webhook.incidents.store import Incidents
from alert_webhook.ingest.payload import Notification
from alert_webhook.ingest.planners import Recording
from alert_webhook.ingest.record import Incoming, Recorder, RecordResult
from alert_webhook.remediation.runs import RunStore
from alert_webhook.reports.digests import Digests
from alert_webhook.reports.noise import Noise
from alert_webhook.reports.recovery import Recovery
from alert_webhook.reports.report import Reports
from alert_webhook.reports.response import ResponseTimes


@dataclass(frozen=True)
class AlertRecord:
    id: int
    fingerprint: str
    starts_at: str
    ends_at: str | None
    status: str
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    first_received_at: float
    last_received_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "status": self.status,
            "alertname": self.alertname,
            "severity": self.severity,
            "labels": self.labels,
            "annotations": self.annotations,
            "generatorURL": self.generator_url,
            "firstReceivedAt": self.first_received_at,
            "lastReceivedAt": self.last_received_at,
        }


_BARE = Recording()  # alerts and state changes only


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.tx = Transactions(engine, serialize_writes=dialect.name == "sqlite")
        self.outage = self.tx.outage
        self._ping = BoundedPing(self._ping_once)
        self.outbox = Outbox(self.tx, dialect)
        self.incidents = Incidents(self.tx, dialect)
        self.flapping = FlappingEpisodes(self.tx, dialect)
        self.runs = RunStore(self.tx, dialect)
        self.recovery = Recovery(self.tx, dialect)
        self.reports = Reports(self.tx, dialect)
        self.noise = Noise(self.tx, dialect)
        self.digests = Digests(self.tx, dialect)
        self.response = ResponseTimes(self.tx)
        self.follow_ups = FollowUps(self.tx)
        self.fleet = FleetPauses(self.tx, dialect)
        self.drills = Drills(self.tx, dialect)
        self._recorder = Recorder(dialect)

    def create_schema(self) -> None:
        """Create what is missing and bring a store made by an older webhook up to
        date, in one transaction; StoreOutdated when it cannot be."""
        try:
            # An upgrade may wait for another replica's and rewrite big tables:
            # none of the store's timeouts apply to it. Its failure is start-up's
            # to say (one line, exit 3), not an outage of a running webhook.
            with as_store_unavailable(), wait_limit(None), self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                    conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
                bring_up_to_date(conn, metadata, BACKFILLS)
        except StoreOutdated:
            # Start-up ends here: close the pool's connection rather than leave
            # it to the collector.
            self.engine.dispose()
            raise

    def ping(self, timeout: float = 2.0) -> bool:
        """Whether the store answers a query within `timeout` seconds; returns by
        then whatever the store does (db/ping.py)."""
        return self._ping(timeout)

    def _ping_once(self, timeout: float) -> None:
        with wait_limit(timeout), self.tx.read() as conn:
            conn.execute(select(1))

    def record_notification(
        self, notification: Notification, body: bytes, now: float, recording: Recording = _BARE
    ) -> RecordResult:
        """Commit the notification whole (with what its planners add) or nothing of it."""
        return self.record_many([Incoming(notification, body, now)], recording, now)[0]

    def record_many(
        self, items: Sequence[Incoming], recording: Recording, now: float
    ) -> list[RecordResult]:
        """Commit the notifications in one transaction, as if one after another, or
        nothing of them; `now` is when the store's own channels count as delivered."""
        with self.tx.write() as conn:
            return self._recorder.record_many(conn, items, recording, now)

    def last_heartbeat(self, name: str) -> float | None:
        with self.tx.read() as conn:
            return conn.execute(
                select(heartbeats.c.last_seen).where(heartbeats.c.name == name)
            ).scalar()

    def list_alerts(
        self, status: str | None = None, limit: int = 100, fingerprint: str | None = None
    ) -> list[AlertRecord]:
        """Newest first; `fingerprint` narrows to one alert's instances."""
        query = select(alerts).order_by(alerts.c.last_received_at.desc(), alerts.c.id.desc())
        if status:
            query = query.where(alerts.c.status == status)
        if fingerprint is not None:
            query = query.where(alerts.c.fingerprint == fingerprint)
        with self.tx.read() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [
            AlertRecord(
                id=row["id"],
                fingerprint=row["fingerprint"],
                starts_at=row["starts_at"],
                ends_at=row["ends_at"],
                status=row["status"],
                alertname=row["alertname"],
                severity=row["severity"],
                labels=json.loads(row["labels"]),
                annotations=json.loads(row["annotations"]),
                generator_url=row["generator_url"],
                first_received_at=row["first_received_at"],
                last_received_at=row["last_received_at"],
            )
            for row in rows
        ]

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for health figures and tests)."""
        with self.tx.read() as conn:
            query = select(func.count()).select_from(metadata.tables[table])
            return int(conn.execute(query).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, limits: StoreLimits | None = None) -> SqlStore:
    """The store at `url`, waiting no longer than `limits` allow (see `open_engine`)."""
    return SqlStore(open_engine(url, limits))
