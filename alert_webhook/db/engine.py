"""The engine: SQLite in WAL mode by default, PostgreSQL for scale-out.

Every wait on the store is bounded (`StoreLimits`, from `store:` in the
settings; docs/webhook.md, "Store timeouts"), so a database that hangs costs a
request a bounded time and a 503, never a thread for as long as it hangs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from alert_webhook.db.deadlines import Deadlines

# libpq's keepalive probes after keepalive_idle: this many, this far apart. An
# idle pooled connection to a host that is gone is noticed within about
# keepalive_idle + 3 × 5 s.
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3


@dataclass(frozen=True)
class StoreLimits:
    """How long the store may make anything wait (seconds)."""

    # PostgreSQL: a new connection (libpq counts whole seconds, at least 2).
    connect_timeout: float = 5.0
    # PostgreSQL's statement_timeout and lock_timeout, set on every connection.
    statement_timeout: float = 10.0
    lock_timeout: float = 5.0
    # PostgreSQL: the longest one checkout of a connection may wait on the
    # server before the webhook cuts it (db/deadlines.py): the bound that holds
    # when the server is alive but answering nothing.
    response_timeout: float = 15.0
    # Both: waiting for a free connection of the pool.
    pool_timeout: float = 5.0
    # PostgreSQL: TCP keepalives start after this much silence.
    keepalive_idle: float = 10.0
    # SQLite: waiting for another process's write lock.
    busy_timeout: float = 5.0


def _sqlite_pragmas(dbapi_connection: Any, busy_timeout: float) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def postgresql_connect_args(limits: StoreLimits) -> dict[str, Any]:
    """libpq parameters for `limits`: over any the URL's query gives."""
    return {
        "connect_timeout": max(2, math.ceil(limits.connect_timeout)),
        "options": f"-c statement_timeout={_ms(limits.statement_timeout)}"
        f" -c lock_timeout={_ms(limits.lock_timeout)}",
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(limits.keepalive_idle)),
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_COUNT,
        # Data sent and never acknowledged (the host or the network gone): give up.
        "tcp_user_timeout": _ms(limits.response_timeout),
    }


def open_engine(url: str, limits: StoreLimits | None = None) -> Engine:
    """An engine for `url`; SQLite gets WAL mode and its folder created, and waits up
    to `busy_timeout` seconds for another process's write lock before the store
    counts as unavailable; PostgreSQL gets the timeouts of `limits`."""
    limits = limits or StoreLimits()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy = limits.busy_timeout
        # LIFO: the connection used last has the warmest page cache (SQLite keeps one
        # per connection and re-reads pages another connection changed).
        engine = create_engine(
            url,
            connect_args={"timeout": busy, "check_same_thread": False},
            pool_use_lifo=True,
            pool_timeout=limits.pool_timeout,
        )
        event.listen(engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, busy))
        return engine
    engine = create_engine(
        url, connect_args=postgresql_connect_args(limits), pool_timeout=limits.pool_timeout
    )
    _bound_checkouts(engine, Deadlines(limits.response_timeout))
    return engine


def _bound_checkouts(engine: Engine, deadlines: Deadlines) -> None:
    """Each checkout gets a deadline (lifted at checkin) and is pinged under it —
    SQLAlchemy's own pre-ping runs before any checkout event, unbounded."""

    def checkout(dbapi_connection: Any, entry: Any, _proxy: Any) -> None:
        deadlines.arm(entry, dbapi_connection)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            deadlines.disarm(entry)
            # The pool drops this connection and checks out a new one.
            raise DisconnectionError(str(exc)) from exc

    def checkin(_dbapi_connection: Any, entry: Any) -> None:
        deadlines.disarm(entry)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
