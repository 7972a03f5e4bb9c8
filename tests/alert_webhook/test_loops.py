"""loops.py: named background loops; each pass bounded by events, never by sleeps."""

from __future__ import annotations

import logging
import threading

import pytest

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.loops import Loop, Workers, pace

WAIT = 5.0  # upper bound for a thread to get there; each test finishes as soon as it does


class Counting:
    """A step that records its passes and says it found `found` work each time."""

    def __init__(self, found: int = 0, fail_first: Exception | None = None) -> None:
        self.passes = 0
        self.found, self.fail_first = found, fail_first
        self.reached: dict[int, threading.Event] = {}

    def until(self, n: int) -> threading.Event:
        return self.reached.setdefault(n, threading.Event())

    def __call__(self) -> int:
        self.passes += 1
        self.until(self.passes).set()
        if self.fail_first is not None and self.passes == 1:
            raise self.fail_first
        return self.found


def test_run_once_steps_every_loop_in_order() -> None:
    order: list[str] = []
    workers = Workers(
        [
            Loop("a", lambda: order.append("a") or 2, 60),
            Loop("b", lambda: order.append("b") or 1, 60),
        ]
    )
    assert workers.run_once() == 3
    assert workers.step("b") == 1
    assert order == ["a", "b", "b"]


def test_a_busy_pass_runs_again_at_once() -> None:
    step = Counting(found=10)
    workers = Workers([Loop("busy", step, interval=60, busy_at=10)])
    workers.start()
    try:
        assert step.until(3).wait(WAIT), "a backlog drains without waiting for the interval"
    finally:
        workers.stop()


def test_wake_cuts_the_wait_short_for_that_loop_only() -> None:
    woken, other = Counting(), Counting()
    workers = Workers([Loop("woken", woken, interval=60), Loop("other", other, interval=60)])
    workers.start()
    try:
        assert woken.until(1).wait(WAIT) and other.until(1).wait(WAIT)
        workers.wake("woken")
        assert woken.until(2).wait(WAIT)
        assert other.passes == 1
    finally:
        workers.stop()


@pytest.mark.parametrize("error", [StoreUnavailable("locked"), RuntimeError("bug")])
def test_a_failing_pass_is_logged_and_the_loop_goes_on(error, caplog) -> None:
    step = Counting(fail_first=error)
    workers = Workers([Loop("flaky", step, interval=60)])
    # A store that is unavailable is logged once per outage by the store itself
    # (db/outage.py); the loop notes each failed pass at debug.
    with caplog.at_level(logging.DEBUG, logger="alert_webhook.loops"):
        workers.start()
        try:
            assert step.until(1).wait(WAIT)
            workers.wake("flaky")
            assert step.until(2).wait(WAIT), "the loop survived its failing pass"
        finally:
            workers.stop()
    assert any("flaky" in r.getMessage() for r in caplog.records)
    assert workers.started and not workers.running


def test_loops_are_added_before_start_only_and_names_are_unique() -> None:
    workers = Workers([Loop("a", Counting(), 60)])
    with pytest.raises(ValueError, match="loop a"):
        workers.add(Loop("a", Counting(), 60))
    workers.start()
    try:
        with pytest.raises(ValueError, match="loop b"):
            workers.add(Loop("b", Counting(), 60))
    finally:
        workers.stop()


def test_the_app_runs_deliveries_duties_and_reconcile_and_stops_them(app_factory) -> None:
    workers = app_factory().extensions["alert_webhook"].workers
    assert list(workers.loops) == ["deliveries", "duties", "reconcile"]
    workers.start()
    assert workers.running
    workers.stop()
    assert not workers.running and workers.started


def _waits(loop: Loop, passes: list[tuple[int, bool]]) -> list[float]:
    """The wait after each pass, for passes given as (work found, woken meanwhile)."""
    waits: list[float] = []
    waited: float | None = None
    for found, woken in passes:
        waits.append(pace(loop, waited, found))
        waited = None if woken else waits[-1]
    return waits


def test_an_idle_loop_backs_off_to_its_idle_interval() -> None:
    # Polling an empty outbox five times a second is most of the webhook's idle CPU.
    loop = Loop("lane", Counting(), interval=0.2, idle_interval=1.0)
    assert _waits(loop, [(0, False)] * 5) == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_work_or_a_wake_up_brings_the_short_interval_back() -> None:
    loop = Loop("lane", Counting(), interval=0.2, idle_interval=1.0)
    waits = _waits(loop, [(0, False), (0, False), (0, False), (3, False), (0, True), (0, False)])
    assert waits == [0.2, 0.4, 0.8, 0.2, 0.4, 0.2]


def test_a_loop_without_an_idle_interval_keeps_its_interval() -> None:
    loop = Loop("duties", Counting(), interval=1.0)
    assert _waits(loop, [(0, False)] * 3) == [1.0, 1.0, 1.0]
