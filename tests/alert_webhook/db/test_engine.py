"""db/engine.py: the store's settings become libpq's timeouts and keepalives, and
SQLite keeps its busy timeout."""

from __future__ import annotations

from pathlib import Path

from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.engine import StoreLimits, open_engine, postgresql_connect_args


def test_the_settings_become_libpq_parameters() -> None:
    store = {"connect_timeout_seconds": 1, "statement_timeout_seconds": 2.5,
             "lock_timeout_seconds": 0.5, "response_timeout_seconds": 4,
             "keepalive_idle_seconds": 7}  # fmt: skip
    limits = settings_from_mapping({"store": store}, {}).store.limits()
    assert postgresql_connect_args(limits) == {
        "connect_timeout": 2,  # libpq's least
        "options": "-c statement_timeout=2500 -c lock_timeout=500",
        "keepalives": 1,
        "keepalives_idle": 7,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 4000,
    }


def test_the_defaults_bound_every_wait() -> None:
    limits = settings_from_mapping({}, {}).store.limits()
    assert limits == StoreLimits()
    assert limits.statement_timeout < limits.response_timeout  # the server's answers first


def test_sqlite_keeps_its_busy_timeout(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/s.sqlite3", StoreLimits(busy_timeout=0.25))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250
    finally:
        engine.dispose()
