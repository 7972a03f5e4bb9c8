"""The webhook's store: one interface, SQLite (default) or PostgreSQL behind it."""

from alert_webhook.store.planners import Recording
from alert_webhook.store.record import Incoming, RecordResult
from alert_webhook.store.rows import DeliveryStatus, NewDelivery, Outcome, Purpose
from alert_webhook.store.sql import (
    AlertRecord,
    SqlStore,
    StoreOutdated,
    StoreUnavailable,
    open_store,
)

__all__ = [
    "AlertRecord",
    "DeliveryStatus",
    "Incoming",
    "NewDelivery",
    "Outcome",
    "Purpose",
    "RecordResult",
    "Recording",
    "SqlStore",
    "StoreOutdated",
    "StoreUnavailable",
    "open_store",
]
