"""The demo's data: orders in one SQLite file, shared by the orders API and its worker.

The API writes an order `queued`; the worker takes queued orders and marks them
`done`. The file is what the recovery plan calls critical data: its integrity is probed
(the probe exporter's `integrity` check), so corrupting it is one of the
scenarios the stack must recover from.

Both processes open the file in WAL mode, so the worker's writes never block
the API's reads; each `Orders` holds one connection behind a lock (the API
serves from several threads). A restore replaces the file (a new file renamed
over the damaged one): the connection, still reading the old one, is reopened
as soon as the path names another file, so neither process needs a restart.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS ix_orders_status ON orders (status, id);
"""
QUEUED, DONE = "queued", "done"


@dataclass(frozen=True)
class Order:
    id: int
    item: str
    quantity: int
    backend: str  # which dependency instance reserved it ("none" without one)
    status: str
    created_at: float
    done_at: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id, "item": self.item, "quantity": self.quantity,
            "backend": self.backend, "status": self.status,
            "created_at": self.created_at, "done_at": self.done_at,
        }  # fmt: skip


class Orders:
    """The orders table. `path` ":memory:" keeps it in this process (tests)."""

    def __init__(
        self,
        path: Path | str,
        busy_timeout: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._conn, self._file = self._open()

    def _identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def _open(self) -> tuple[sqlite3.Connection, tuple[int, int] | None]:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None
        )
        self._wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        return conn, self._identity()

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, waiting up to the busy timeout. A fresh file is not in WAL
        mode until its first write commits; while another process's first write is
        under way SQLite refuses the switch at once rather than wait (waiting could
        deadlock), so the busy timeout alone does not cover it."""
        deadline = self._clock() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or self._clock() >= deadline:
                    raise
            self._sleep(0.05)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._identity() != self._file:  # replaced (a restore) or removed
                self._conn.close()
                self._conn, self._file = self._open()
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(self, item: str, quantity: int, backend: str, now: float) -> Order:
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO orders (item, quantity, backend, status, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (item, quantity, backend, QUEUED, now),
            )
        return Order(int(cursor.lastrowid or 0), item, quantity, backend, QUEUED, now, None)

    def recent(self, limit: int = 20) -> list[Order]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, item, quantity, backend, status, created_at, done_at"
                " FROM orders ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Order(*row) for row in rows]

    def count(self, status: str | None = None) -> int:
        with self._tx() as conn:
            if status is None:
                row = conn.execute("SELECT count(*) FROM orders").fetchone()
            else:
                row = conn.execute("SELECT count(*) FROM orders WHERE status = ?", (status,))
                row = row.fetchone()
        return int(row[0])

    def work_off(self, limit: int, now: float) -> int:
        """Mark up to `limit` of the oldest queued orders done; how many were."""
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE orders SET status = ?, done_at = ? WHERE id IN"
                " (SELECT id FROM orders WHERE status = ? ORDER BY id LIMIT ?)",
                (DONE, now, QUEUED, limit),
            )
        return cursor.rowcount
