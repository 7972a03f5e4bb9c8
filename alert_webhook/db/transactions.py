"""Driver failures → StoreUnavailable, the one transient error the webhook knows."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError


class StoreUnavailable(Exception):
    """The store cannot be reached or written right now: a transient failure."""


@contextlib.contextmanager
def as_store_unavailable() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(str(exc.orig)) from exc


class Transactions:
    """Read and write transactions; SQLite's writes are serialised in-process.

    SQLite allows one writer; a second one waits in its busy handler, which
    sleeps in steps of milliseconds. A Python lock hands over at once instead.
    """

    def __init__(self, engine: Engine, serialize_writes: bool) -> None:
        self.engine = engine
        self._lock: Any = threading.Lock() if serialize_writes else contextlib.nullcontext()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with as_store_unavailable(), self._lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with as_store_unavailable(), self.engine.connect() as conn:
            yield conn
