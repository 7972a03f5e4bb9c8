"""Background delivery: the outbox worker and the scheduler, run by one thread.

`Workers.run_once()` is the step unit tests drive on a fake clock; `start()`
runs it in a loop (under gunicorn, in the worker process) and `stop()` ends it.
"""

from __future__ import annotations

import logging
import threading

from alert_webhook.delivery.scheduler import Scheduler
from alert_webhook.delivery.worker import DeliveryWorker
from alert_webhook.store import StoreUnavailable

logger = logging.getLogger("alert_webhook.delivery")


class Workers:
    def __init__(
        self,
        worker: DeliveryWorker,
        scheduler: Scheduler,
        interval: float,
        scheduler_interval: float = 1.0,
    ) -> None:
        self.worker, self.scheduler, self.interval = worker, scheduler, interval
        # Deadlines and heartbeats are minutes-scale: no need to scan them per batch.
        self.scheduler_interval = scheduler_interval
        self._scheduled_at: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> int:
        claimed = self.worker.run_once()
        now = self.worker.clock()
        if self._scheduled_at is None or now - self._scheduled_at >= self.scheduler_interval:
            self._scheduled_at = now
            self.scheduler.run_once()
        return claimed

    def _loop(self) -> None:
        batch = self.worker.settings.delivery.batch_size
        coalesce = self.worker.settings.delivery.coalesce_seconds
        while not self._stop.is_set():
            try:
                claimed = self.run_once()
            except StoreUnavailable as exc:
                logger.warning("store unavailable; deliveries wait: %s", exc)
                claimed = 0
            except Exception:
                logger.exception("delivery step failed; continuing")
                claimed = 0
            if claimed >= batch:
                continue  # a backlog: keep draining
            # Polling finds work other replicas stored; wake() cuts the wait short
            # when this process stored some, and a short pause then gathers what
            # arrives meanwhile into one claim instead of one claim per request.
            if self._wake.wait(self.interval) and coalesce:
                self._stop.wait(coalesce)
            self._wake.clear()

    def wake(self) -> None:
        """New deliveries are committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="deliveries", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
