"""The webhook's store: one interface, SQLite (default) or PostgreSQL behind it."""

from alert_webhook.store.record import Incoming
from alert_webhook.store.sql import (
    AlertRecord,
    RecordResult,
    SqlStore,
    StoreUnavailable,
    open_store,
)

__all__ = ["AlertRecord", "Incoming", "RecordResult", "SqlStore", "StoreUnavailable", "open_store"]
