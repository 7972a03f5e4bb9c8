"""Tables of the webhook's store, in portable SQL (SQLite and PostgreSQL).

An *alert* is one instance of a Prometheus alert: Alertmanager's fingerprint
plus its `startsAt`. Each state it reaches (firing, resolved) is one row of
`alert_events`, at most once: the unique constraint, not process memory, makes
repeats from `repeat_interval`, retries and HA peers collapse into one change.

Columns filled from labels or other payload text are `Text`: a label value has
no length limit, and PostgreSQL (unlike SQLite) enforces a `String(n)`.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
# The largest id a row can have on every store: `Integer` is 32-bit on
# PostgreSQL (SQLite's are wider, but start at 1 and count up as well).
MAX_ID = 2**31 - 1

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False),
    Column("receiver", Text, nullable=False),
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
    Column("alertname", Text, nullable=False),
    Column("severity", Text, nullable=False),
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

# One row per (alert state change × channel × recipient × purpose): the outbox.
# `purpose` is "notify" for the state change itself, "remind-N" for reminders,
# "tier-N" for deadline escalation, "failover:<channel>" when another channel
# failed. The unique constraint makes every replica and every Alertmanager peer
# create it once; `claimed_until` is the lease that decides who sends it.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("event_status", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("recipient", Text, nullable=False),  # an email address may have 254 characters
    Column("purpose", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("claimed_by", String(64)),
    Column("provider", String(100)),
    Column("note", Text),
    Column("last_error", Text),
    Column("received_at", Float, nullable=False),
    Column("finished_at", Float),
    UniqueConstraint("event_id", "channel", "recipient", "purpose", name="uq_delivery"),
)
Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_deliveries_alert", deliveries.c.alert_id)

# An incident is a firing alert someone must answer; keyed by the alert.
incidents = Table(
    "incidents",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id"), primary_key=True),
    Column("severity", Text, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("deadline_at", Float, nullable=False),
    Column("tier", Integer, nullable=False, default=1),
    Column("reminders", Integer, nullable=False, default=0),
    Column("acked_at", Float),
    Column("acked_by", String(200)),
    Column("closed_at", Float),
    Column("flag", Text),
)

# Heartbeats (the Watchdog alert): when each was last seen, shared by replicas.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", Text, primary_key=True),
    Column("last_seen", Float, nullable=False),
)
