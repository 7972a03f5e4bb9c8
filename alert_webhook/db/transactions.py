"""Driver failures → StoreUnavailable, the one transient error the webhook knows."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from alert_webhook.db.outage import Outage


class StoreUnavailable(Exception):
    """The store cannot be reached or written right now: a transient failure."""


@contextlib.contextmanager
def as_store_unavailable(outage: Outage | None = None) -> Iterator[None]:
    """Driver failures and a pool with no free connection in time become
    StoreUnavailable; with `outage`, each use is counted there as failed or not."""
    try:
        yield
    except OperationalError as exc:
        if outage is not None:
            outage.failed(exc.orig)
        raise StoreUnavailable(str(exc.orig)) from exc
    except PoolTimeout as exc:
        if outage is not None:
            outage.failed(exc)
        raise StoreUnavailable(f"no free store connection: {exc}") from exc
    if outage is not None:
        outage.succeeded()


class Transactions:
    """Read and write transactions; SQLite's writes are serialised in-process.

    SQLite allows one writer; a second one waits in its busy handler, which
    sleeps in steps of milliseconds. A Python lock hands over at once instead.
    Every use reports to `outage`, the store's one availability state.
    """

    def __init__(
        self, engine: Engine, serialize_writes: bool, outage: Outage | None = None
    ) -> None:
        self.engine = engine
        self.outage = outage or Outage()
        self._lock: Any = threading.Lock() if serialize_writes else contextlib.nullcontext()

    def guard(self) -> contextlib.AbstractContextManager[None]:
        """`as_store_unavailable`, counted in the store's outage."""
        return as_store_unavailable(self.outage)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self.guard(), self._lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.guard(), self.engine.connect() as conn:
            yield conn
