"""Tables of the webhook's store, in portable SQL (SQLite and PostgreSQL).

An *alert* is one instance of a Prometheus alert: Alertmanager's fingerprint
plus its `startsAt`. Each state it reaches (firing, resolved) is one row of
`alert_events`, at most once: the unique constraint, not process memory, makes
repeats from `repeat_interval`, retries and HA peers collapse into one change.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False),
    Column("receiver", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("alert_count", Integer, nullable=False),
    Column("truncated_alerts", Integer, nullable=False),
    Column("body", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("alertname", String(200), nullable=False),
    Column("severity", String(32), nullable=False),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("ends_at", String(40)),
    Column("generator_url", Text, nullable=False),
    Column("first_received_at", Float, nullable=False),
    Column("last_received_at", Float, nullable=False),
    Column("last_notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    UniqueConstraint("fingerprint", "starts_at", name="uq_alert_instance"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    UniqueConstraint("alert_id", "status", name="uq_alert_event"),
)
