"""The engine: SQLite in WAL mode by default, PostgreSQL for scale-out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def _sqlite_pragmas(dbapi_connection: Any, busy_timeout: float) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str, busy_timeout: float = 5.0) -> Engine:
    """An engine for `url`; SQLite gets WAL mode and its folder created, and waits up
    to `busy_timeout` seconds for another process's write lock before the store
    counts as unavailable."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # LIFO: the connection used last has the warmest page cache (SQLite keeps one
        # per connection and re-reads pages another connection changed).
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout, "check_same_thread": False},
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, busy_timeout))
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine
