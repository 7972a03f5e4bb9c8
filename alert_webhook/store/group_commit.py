"""Group commit: one writer thread records concurrent notifications in one transaction.

Each request hands its validated notification over and waits on a `Future`;
the writer takes everything queued meanwhile, records it with one commit, then
answers each request. A request still hears 2xx only after its own commit.
When a batch fails, nothing of it was committed: on `StoreUnavailable` every
request of the batch hears it (503, Alertmanager retries); on any other error
each notification is recorded alone, so one bad notification fails no other.

Without a running thread (unit tests, scripts) `record` writes in the caller's
thread, a batch of one. `run_once` is the step tests drive: submit, step, look.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from alert_webhook.store.record import Incoming
from alert_webhook.store.sql import RecordResult, StoreUnavailable

logger = logging.getLogger("alert_webhook.store")
RecordMany = Callable[[Sequence[Incoming]], list[RecordResult]]
Pending = tuple[Incoming, "Future[RecordResult]"]


class GroupCommit:
    def __init__(
        self, record_many: RecordMany, max_alerts: int = 5000, wait_seconds: float = 30.0
    ) -> None:
        self._record_many = record_many
        self.max_alerts = max_alerts  # a batch closes once it holds this many alerts
        self.wait_seconds = wait_seconds  # a request gives up (503) if still queued then
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, item: Incoming) -> Future[RecordResult]:
        future: Future[RecordResult] = Future()
        self._queue.put((item, future))
        return future

    def record(self, item: Incoming) -> RecordResult:
        """Record one notification; returns once it is committed."""
        if self._thread is None:
            return self._record_many([item])[0]
        future = self.submit(item)
        try:
            return future.result(self.wait_seconds)
        except TimeoutError:
            if future.cancel():  # still queued: it will never be written
                raise StoreUnavailable("the store's writer is overloaded") from None
            return future.result()  # being written now: its outcome is coming

    def run_once(self, timeout: float | None = None) -> int:
        """Record what is queued as one batch, waiting up to `timeout` for the first
        notification (None: wait as long as it takes); returns how many were taken."""
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return 0
        alerts = len(batch[0][0].notification.alerts)
        while alerts < self.max_alerts:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
            alerts += len(batch[-1][0].notification.alerts)
        # A request that gave up waiting has cancelled its future: leave it out.
        self._commit([p for p in batch if p[1].set_running_or_notify_cancel()])
        return len(batch)

    def _commit(self, batch: list[Pending]) -> None:
        if not batch:
            return
        try:
            results = self._record_many([item for item, _ in batch])
        except StoreUnavailable as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            logger.warning("a batch of %d notifications failed; recording each alone", len(batch))
            for pending in batch:
                self._commit([pending])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(timeout=0.2)
            except Exception:  # _commit answers every future; this is a last resort
                logger.exception("group commit step failed; continuing")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop the thread; what was queued meanwhile is written here."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None
        while self.run_once(timeout=0):
            pass
