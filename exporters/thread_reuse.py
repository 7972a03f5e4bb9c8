"""Threads that wait for their next target instead of ending, for work handed off on
every scrape.

Each scrape handed its work to two fresh threads: the HTTP server's thread for the
request and the collectors' worker. Starting a thread costs a clone and a
handshake (`Thread.start` waits until the new thread runs), and on a busy machine
each side of that handshake waits for a CPU; measured on two shared cores, it was
a tenth of the system exporter's CPU per scrape. A thread of a `ThreadReuse` that
has finished its target waits for the next one for up to `linger` seconds, then
ends. A target that finds no idle thread gets a new one, so nothing ever queues
behind a busy or stuck thread (a collector hung on a dead NFS mount, a slow
client): the reuse saves the start, and bounds nothing.

An idle thread sleeps in one timed wait, with no wake-ups until a target or its
linger's end, so the exporter's idle cost does not change.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Target = Callable[[], None]


class ThreadReuse:
    """Runs each target on an idle thread of its own, or on a new one when none is idle."""

    def __init__(self, name: str, linger: float = 300.0) -> None:
        self.name = name
        self.linger = linger
        self._idle: list[queue.SimpleQueue[Target]] = []
        self._lock = threading.Lock()
        self._became_idle = threading.Condition(self._lock)
        self.started = 0  # threads started so far

    def __call__(self, target: Target) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self.started += 1
        if inbox is not None:
            inbox.put(target)
            return
        thread = threading.Thread(target=self._serve, args=(target,), name=self.name)
        thread.daemon = True
        thread.start()

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def wait_idle(self, count: int, timeout: float) -> bool:
        """Whether `count` threads were idle at once within `timeout` seconds."""
        with self._became_idle:
            return self._became_idle.wait_for(lambda: len(self._idle) >= count, timeout)

    def _serve(self, target: Target) -> None:
        inbox: queue.SimpleQueue[Target] = queue.SimpleQueue()
        while True:
            try:
                target()
            except Exception:  # the targets handle their own errors; this thread lives on
                log.exception("%s: a target raised", self.name)
            with self._became_idle:
                self._idle.append(inbox)
                self._became_idle.notify_all()
            try:
                target = inbox.get(timeout=self.linger)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:
                        self._idle.remove(inbox)
                        return
                # Taken from the idle list just as the linger ended: its target is on the way.
                target = inbox.get()
