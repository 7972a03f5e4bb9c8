"""The store's availability as one observable state, logged once per change.

While the database refuses or hangs, every request, delivery lane and duty that
touches the store fails the same way, many times a second. `Outage` turns that
into two log lines: one when the store becomes unavailable (with the first
reason) and one when it is back (how long it was gone, how many store uses were
refused or waited meanwhile). Its `down` flag lets callers refuse at once
instead of queueing behind a store known to be gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("alert_webhook.store")


class Outage:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, log: logging.Logger = logger
    ) -> None:
        self.clock, self.log = clock, log
        self._lock = threading.Lock()
        self._since: float | None = None  # when the store became unavailable
        self.refused = 0  # store uses refused or failed since then

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, reason: object) -> None:
        """A store use failed (or was refused without trying) because of `reason`."""
        with self._lock:
            self.refused += 1
            if self._since is not None:
                return
            self._since = self.clock()
        self.log.warning("store unavailable; work waits and ingest answers 503: %s", reason)

    def succeeded(self) -> None:
        """A store use went through."""
        if self._since is None:  # the common case costs no lock
            return
        with self._lock:
            if self._since is None:
                return
            gone, refused = self.clock() - self._since, self.refused
            self._since, self.refused = None, 0
        self.log.warning(
            "store available again after %.1fs; %d store uses were refused or failed meanwhile",
            gone, refused,
        )  # fmt: skip
