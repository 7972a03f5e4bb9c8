"""SQLAlchemy Core store: SQLite in WAL mode by default, PostgreSQL for scale-out.

`record_notification` commits a whole notification in one transaction or
nothing of it; only after it returns may the webhook answer 2xx.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from alert_webhook.payload import Alert, Notification
from alert_webhook.store.schema import alert_events, alerts, metadata, notifications


class StoreUnavailable(Exception):
    """The store cannot be reached or written right now: a transient failure."""


@dataclass(frozen=True)
class RecordResult:
    notification_id: int
    alerts: int
    state_changes: int


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


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert: Callable[..., Any] = (
            postgresql.insert if dialect == "postgresql" else sqlite.insert
        )

    def create_schema(self) -> None:
        with _guard():
            metadata.create_all(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except DBAPIError:
            return False

    def record_notification(self, notification: Notification, body: bytes, now: float) -> RecordResult:
        with _guard(), self.engine.begin() as conn:
            notification_id = conn.execute(
                insert(notifications).values(
                    received_at=now,
                    receiver=notification.receiver,
                    status=notification.status,
                    group_key=notification.groupKey,
                    alert_count=len(notification.alerts),
                    truncated_alerts=notification.truncatedAlerts,
                    body=body.decode("utf-8"),
                )
            ).inserted_primary_key[0]
            changes = sum(
                self._record_alert(conn, alert, notification_id, now)
                for alert in notification.alerts
            )
        return RecordResult(notification_id, len(notification.alerts), changes)

    def _record_alert(self, conn: Connection, alert: Alert, notification_id: int, now: float) -> int:
        starts_at = _iso(alert.startsAt)
        values = {
            "status": alert.status,
            "alertname": alert.alertname,
            "severity": alert.severity,
            "labels": json.dumps(alert.labels, sort_keys=True),
            "annotations": json.dumps(alert.annotations, sort_keys=True),
            "ends_at": _iso(alert.endsAt),
            "generator_url": alert.generatorURL,
            "last_received_at": now,
            "last_notification_id": notification_id,
        }
        stmt = self._insert(alerts).values(
            fingerprint=alert.fingerprint, starts_at=starts_at, first_received_at=now, **values
        )
        # A resolved alert stays resolved: a late firing copy (an HA peer, a
        # retry) must not turn it back, so only firing rows take updates.
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint", "starts_at"],
            set_=values,
            where=alerts.c.status == "firing",
        )
        conn.execute(stmt)
        alert_id = conn.execute(
            select(alerts.c.id).where(
                alerts.c.fingerprint == alert.fingerprint, alerts.c.starts_at == starts_at
            )
        ).scalar_one()
        inserted = conn.execute(
            self._insert(alert_events)
            .values(
                alert_id=alert_id,
                status=alert.status,
                received_at=now,
                notification_id=notification_id,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "status"])
        )
        return inserted.rowcount

    def list_alerts(self, status: str | None = None, limit: int = 100) -> list[AlertRecord]:
        query = select(alerts).order_by(alerts.c.last_received_at.desc(), alerts.c.id.desc())
        if status:
            query = query.where(alerts.c.status == status)
        with _guard(), self.engine.connect() as conn:
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
        with _guard(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Turn the driver's connection failures into StoreUnavailable."""
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(str(exc.orig)) from exc


def open_store(url: str) -> SqlStore:
    """An engine for `url`; SQLite gets WAL mode and its folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return SqlStore(engine)
