"""Background work: the outbox worker and the scheduler, each on its own thread.

`Workers.run_once()` is the step unit tests drive on a fake clock; `start()`
runs both loops (under gunicorn, in the worker process) and `stop()` ends them.
The scheduler's scans (deadlines, reminders, heartbeat) run beside deliveries,
so they never hold a message back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

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
        self._threads: list[threading.Thread] = []

    @property
    def started(self) -> bool:
        return bool(self._threads)

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def run_once(self) -> int:
        """One delivery pass, and a scheduler pass when one is due."""
        claimed = self.worker.run_once()
        now = self.worker.clock()
        if self._scheduled_at is None or now - self._scheduled_at >= self.scheduler_interval:
            self._scheduled_at = now
            self.scheduler.run_once()
        return claimed

    def _guarded(self, step: Callable[[], int]) -> int:
        try:
            return step()
        except StoreUnavailable as exc:
            logger.warning("store unavailable; work waits: %s", exc)
        except Exception:
            logger.exception("background step failed; continuing")
        return 0

    def _scheduled(self) -> int:
        self.scheduler.run_once()
        self.worker.update_backlog()  # the gauges stay fresh when nothing is delivered
        return 0

    def _deliver_loop(self) -> None:
        batch = self.worker.settings.delivery.batch_size
        coalesce = self.worker.settings.delivery.coalesce_seconds
        while not self._stop.is_set():
            if self._guarded(self.worker.run_once) >= batch:
                continue  # a backlog: keep draining
            # Polling finds work other replicas stored; wake() cuts the wait short
            # when this process stored some, and a short pause then gathers what
            # arrives meanwhile into one claim instead of one claim per request.
            if self._wake.wait(self.interval) and coalesce:
                self._stop.wait(coalesce)
            self._wake.clear()

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            self._guarded(self._scheduled)
            self._stop.wait(self.scheduler_interval)

    def wake(self) -> None:
        """New deliveries are committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._threads:
            return
        for name, target in (
            ("deliveries", self._deliver_loop),
            ("scheduler", self._schedule_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
