"""A readiness ping that returns within its timeout whatever the store does.

The ping runs on a thread of its own, at most one at a time; a caller waits for
it no longer than its timeout and counts a ping still waiting as a failure. So
`/readyz` says "not ready" in time even while the store hangs, and however
often it is asked, one thread at most waits on the store for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BoundedPing:
    def __init__(self, ping: Callable[[float], None]) -> None:
        self._ping = ping  # raises when the store does not answer
        self._lock = threading.Lock()
        self._flight: tuple[threading.Event, list[bool]] | None = None

    def __call__(self, timeout: float) -> bool:
        with self._lock:
            if self._flight is None:
                self._flight = (threading.Event(), [False])
                flight = self._flight
                threading.Thread(
                    target=self._run, args=(timeout, *flight), name="store-ping", daemon=True
                ).start()
            done, result = self._flight
        return done.wait(timeout) and result[0]

    def _run(self, timeout: float, done: threading.Event, result: list[bool]) -> None:
        try:
            self._ping(timeout)
            result[0] = True
        except Exception:  # unavailable, or anything else: not ready either way
            result[0] = False
        finally:
            with self._lock:
                self._flight = None
            done.set()
