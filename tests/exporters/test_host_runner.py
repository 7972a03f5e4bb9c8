"""Collector runs under a timeout: a hung collector fails alone and never piles up.

A `Held` spawn keeps a worker as a thread that has not returned; the wait gives up
at once for a run that is not done, moving the fake clock by what it was allowed.
No test here waits out a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from exporters.host.base import NoData
from exporters.host.runner import CollectorRuns


class Held:
    """Runs every target at once, except those of collectors it is told to hold."""

    def __init__(self) -> None:
        self.held: list[Callable[[], None]] = []
        self.hold_next = False
        self.started = 0

    def __call__(self, target: Callable[[], None]) -> None:
        self.started += 1
        if self.hold_next:
            self.hold_next = False
            self.held.append(target)
        else:
            target()

    def release(self) -> None:
        held, self.held = self.held, []
        for target in held:
            target()


def fake_wait(clock):
    def wait(name: str, done: threading.Event, timeout: float) -> bool:
        if not done.is_set():
            clock.advance(timeout)
        return done.is_set()

    return wait


def test_a_hung_collector_fails_alone_and_the_scrape_ends_at_the_timeout(clock):
    spawn = Held()
    runs = CollectorRuns(5.0, clock.monotonic, spawn, fake_wait(clock))
    spawn.hold_next = True
    start = clock.now
    outcomes = runs.run({"filesystem": lambda: ["fs"], "loadavg": lambda: ["load"]})
    assert outcomes["filesystem"].success is False
    assert outcomes["filesystem"].families == []
    assert outcomes["filesystem"].duration == 5.0
    assert outcomes["loadavg"].success is True and outcomes["loadavg"].families == ["load"]
    assert clock.now - start == 5.0
    assert runs.hung() == ["filesystem"]


def test_a_still_hung_collector_is_not_started_again(clock):
    spawn = Held()
    runs = CollectorRuns(5.0, clock.monotonic, spawn, fake_wait(clock))
    spawn.hold_next = True
    runs.run({"filesystem": lambda: ["fs"]})
    for _ in range(10):
        clock.advance(15)
        outcome = runs.run({"filesystem": lambda: ["fs"]})["filesystem"]
        assert outcome.success is False
    assert spawn.started == 1  # one stuck thread, however many scrapes come
    assert outcome.duration == 5 + 150  # how long it has been stuck


def test_the_stuck_worker_runs_nothing_more_once_it_returns(clock):
    spawn = Held()
    runs = CollectorRuns(5.0, clock.monotonic, spawn, fake_wait(clock))
    calls: list[str] = []
    spawn.hold_next = True
    runs.run(
        {
            "filesystem": lambda: calls.append("fs") or [],
            "loadavg": lambda: calls.append("load") or [],
        }
    )
    assert calls == ["load"]  # the fresh worker ran it
    spawn.release()
    assert calls == ["load", "fs"]  # the stuck one finished its collector, and stopped there


def test_once_it_returns_its_late_result_is_dropped_and_it_runs_afresh(clock):
    spawn = Held()
    runs = CollectorRuns(5.0, clock.monotonic, spawn, fake_wait(clock))
    spawn.hold_next = True
    runs.run({"filesystem": lambda: ["stale"]})
    spawn.release()
    assert runs.hung() == []
    outcome = runs.run({"filesystem": lambda: ["fresh"]})["filesystem"]
    assert outcome.success is True
    assert outcome.families == ["fresh"]
    assert spawn.started == 2


def test_errors_and_missing_sources_are_failures_that_spare_the_rest(clock):
    def broken():
        raise OSError("no such file")

    def absent():
        raise NoData("no PSI here")

    runs = CollectorRuns(5.0, clock.monotonic, Held(), fake_wait(clock))
    outcomes = runs.run({"a": broken, "b": absent, "c": lambda: ["ok"]})
    assert [o.success for o in outcomes.values()] == [False, False, True]
    assert list(outcomes) == ["a", "b", "c"]  # in the order asked


def test_real_threads_with_the_default_spawn_and_wait():
    release = threading.Event()

    def hung():
        release.wait()
        return ["late"]

    runs = CollectorRuns(0.01, time.monotonic)
    try:
        outcomes = runs.run({"quick": lambda: ["ok"], "hung": hung, "after": lambda: ["also"]})
        assert outcomes["hung"].success is False
        assert outcomes["quick"].families == ["ok"]
        assert outcomes["after"].families == ["also"]  # a fresh worker took the rest
        assert runs.hung() == ["hung"]
    finally:
        release.set()


def test_each_collector_has_its_own_timeout_not_a_share_of_one(clock):
    # Three collectors of 3 s each under a 5 s timeout: 9 s in all, none too slow.
    # Each waits at its gate in the real worker thread; the test's wait opens one
    # gate per call, so the scrape's thread sees the worker between collectors.
    gates = {name: threading.Event() for name in "abc"}
    returned = {name: threading.Event() for name in "abc"}

    def slow(name):
        def collect():
            gates[name].wait(10)
            clock.advance(3)
            returned[name].set()
            return [name]

        return collect

    def wait(name, finished, timeout):
        assert timeout > 0, f"{name} was given no time of its own"
        gates[name].set()
        returned[name].wait(10)
        return finished.wait(0.5) if name == "c" else finished.is_set()

    runs = CollectorRuns(5.0, clock.monotonic, wait=wait)
    outcomes = runs.run({name: slow(name) for name in "abc"})
    assert [o.success for o in outcomes.values()] == [True, True, True]
    assert [o.duration for o in outcomes.values()] == [3, 3, 3]
    assert runs.hung() == []
