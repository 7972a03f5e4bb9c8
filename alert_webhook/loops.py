"""Background work: named loops, each on its own thread.

A loop is a step that does one pass and says how much it did, and how to pace it.
The factory (`app/background.py`) runs one delivery lane per channel that leaves the
process, `duties` (deadlines, reminders, the watchdog, silences, failover
switch-back), `reconcile` (resolutions read from Alertmanager) and, when it is
enabled, `remediation`. `run_once()` is the step unit tests drive on a fake clock;
`start()` runs every loop on its thread (in the server process, beside the requests)
and `stop()` ends them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alert_webhook.db.transactions import StoreUnavailable

logger = logging.getLogger("alert_webhook.loops")


@dataclass(frozen=True)
class Loop:
    name: str
    step: Callable[[], int]  # one pass; returns how much work it found
    interval: float  # seconds between passes when there is nothing to do
    # A pass that found this much work runs again at once: a backlog drains.
    busy_at: int | None = None
    # After wake(), wait this long before the pass, to gather what arrives meanwhile
    # into one pass instead of one per request.
    coalesce: float = 0.0
    # An idle loop (its passes find nothing and nothing wakes it) doubles its wait
    # from `interval` up to this, and is back at `interval` after work or a wake-up.
    # None: always `interval`.
    idle_interval: float | None = None


def pace(loop: Loop, waited: float | None, found: int) -> float:
    """The wait after a pass that found `found`: `interval` after work, or when the
    last wait was cut short by a wake-up (`waited` None); else twice the last wait,
    up to the loop's `idle_interval`. What an idle webhook costs is mostly polling
    (issue 27), while new work here wakes the loop at once."""
    if found or waited is None or loop.idle_interval is None:
        return loop.interval
    return max(loop.interval, min(waited * 2, loop.idle_interval))


class Workers:
    def __init__(self, loops: Sequence[Loop] = ()) -> None:
        self.loops: dict[str, Loop] = {}
        self._stop = threading.Event()
        self._wake: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self.add(*loops)

    def add(self, *loops: Loop) -> None:
        """More loops, before `start()`."""
        for loop in loops:
            if loop.name in self.loops or self._threads:
                raise ValueError(f"loop {loop.name}: already there, or the loops are running")
            self.loops[loop.name] = loop
            self._wake[loop.name] = threading.Event()

    @property
    def started(self) -> bool:
        return bool(self._threads)

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def step(self, name: str) -> int:
        """One pass of one loop, on the caller's thread."""
        return self.loops[name].step()

    def run_once(self) -> int:
        """One pass of every loop in order; returns the work they found."""
        return sum(loop.step() for loop in self.loops.values())

    def wake(self, *names: str) -> None:
        """New work for these loops is committed: look now, not at the next poll."""
        for name in names:
            self._wake[name].set()

    def _guarded(self, loop: Loop) -> int:
        try:
            return loop.step()
        except StoreUnavailable as exc:
            # Said once per outage, with a count, by the store (db/outage.py).
            logger.debug("%s: work waits for the store: %s", loop.name, exc)
        except Exception:
            logger.exception("%s: a pass failed; continuing", loop.name)
        return 0

    def _run(self, loop: Loop) -> None:
        wake = self._wake[loop.name]
        waited: float | None = None
        while not self._stop.is_set():
            done = self._guarded(loop)
            if loop.busy_at is not None and done >= loop.busy_at:
                waited = None
                continue
            # Polling finds work other replicas stored; wake() cuts the wait short.
            waited = pace(loop, waited, done)
            if wake.wait(waited):
                waited = None
                if loop.coalesce:
                    self._stop.wait(loop.coalesce)
            wake.clear()

    def start(self) -> None:
        if self._threads:
            return
        for loop in self.loops.values():
            thread = threading.Thread(target=self._run, args=(loop,), name=loop.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout)
