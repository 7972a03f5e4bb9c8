"""A client-side bound on how long one use of a PostgreSQL connection may wait.

PostgreSQL's own `statement_timeout` and `lock_timeout` end a statement that
runs too long — if the server runs at all. A server that is alive but answering
nothing (stopped by SIGSTOP, swapped out, a hung disk under its checkpointer)
cannot time anything out, and TCP keepalives do not notice it either: its
kernel still acknowledges every packet. libpq then waits on the socket with no
bound. So each connection is given a deadline when it is checked out of the
pool; past it, the socket is shut down under libpq, whose wait ends at once
with "server closed the connection unexpectedly": an OperationalError, so the
store use fails as unavailable (503 for ingest), and the pool drops the
connection. Checking it back in lifts the deadline.

`expire()` is the step: tests call it on a fake clock with a fake `cut`; the
real thing runs it on one daemon thread while any deadline is armed.
`wait_limit(seconds)` gives the checkouts made in its block another bound (a
readiness ping's short one), or none (`None`: a schema upgrade may take long).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

_DEFAULT: Any = object()
_limit: contextvars.ContextVar[Any] = contextvars.ContextVar("store_wait_limit", default=_DEFAULT)
TICK_SECONDS = 0.1  # how late past its deadline a connection may be cut


@contextlib.contextmanager
def wait_limit(seconds: float | None) -> Iterator[None]:
    """Checkouts on this thread in the block get `seconds` (None: no bound)."""
    token = _limit.set(seconds)
    try:
        yield
    finally:
        _limit.reset(token)


def shut_down(dbapi_connection: Any) -> None:
    """End whatever the connection waits for: shut its socket down, both ways."""
    with contextlib.suppress(Exception):  # already closed: nothing waits on it
        fd = os.dup(dbapi_connection.fileno())
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)


class Deadlines:
    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        cut: Callable[[Any], None] = shut_down,
        start_thread: bool = True,
    ) -> None:
        self.seconds, self.clock, self.cut = seconds, clock, cut
        self._start_thread = start_thread
        self._due: dict[int, tuple[float, Any]] = {}  # id(pool entry) -> (deadline, connection)
        self._lock = threading.Lock()
        self._armed = threading.Event()
        self._thread: threading.Thread | None = None
        self.cuts = 0

    def arm(self, entry: object, dbapi_connection: Any) -> None:
        """The connection of pool entry `entry` was checked out now."""
        seconds = _limit.get()
        if seconds is _DEFAULT:
            seconds = self.seconds
        if seconds is None:
            self.disarm(entry)
            return
        with self._lock:
            self._due[id(entry)] = (self.clock() + seconds, dbapi_connection)
            if self._start_thread and self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="store-deadlines", daemon=True
                )
                self._thread.start()
        self._armed.set()

    def disarm(self, entry: object) -> None:
        with self._lock:
            self._due.pop(id(entry), None)

    def expire(self) -> float | None:
        """Cut every connection past its deadline; returns the next deadline, if any."""
        now = self.clock()
        with self._lock:
            # Under the lock: a connection checked in meanwhile is not cut after
            # it went back to the pool.
            for key, (due, connection) in list(self._due.items()):
                if due <= now:
                    del self._due[key]
                    self.cut(connection)
                    self.cuts += 1
            return min((due for due, _ in self._due.values()), default=None)

    def _run(self) -> None:
        while True:
            self._armed.wait()
            self._armed.clear()
            while (due := self.expire()) is not None:
                time.sleep(min(TICK_SECONDS, max(0.0, due - self.clock())))
