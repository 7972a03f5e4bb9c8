"""The probe scheduler on a fake clock: intervals, timeouts, abandoned runs. No sleeping."""

from __future__ import annotations

from collections.abc import Callable

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries
from exporters.probe_config import Probe
from exporters.scheduler import Scheduler


class Held:
    """A spawn that keeps runs until the test lets them go (a thread that hangs)."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, target: Callable[[], None]) -> None:
        self.pending.append(target)

    def release_all(self) -> None:
        runs, self.pending = self.pending, []
        for run in runs:
            run()


def probe(name: str, interval: float = 30, timeout: float = 5, kind: str = "fake") -> Probe:
    return Probe(
        check=type("C", (), {"name": name})(), kind=kind, interval=interval, timeout=timeout
    )  # type: ignore[arg-type]


def make(clock, runner, probes, spawn=lambda target: target()) -> Scheduler:
    ctx = Boundaries(monotonic=clock.monotonic, wall=clock.wall)
    return Scheduler(probes, {"fake": runner}, ctx, spawn=spawn)


def results(scheduler: Scheduler) -> dict:
    return {p.name: (r, counts) for p, r, counts in scheduler.snapshot()}


def test_every_probe_runs_at_start_then_on_its_own_interval(clock):
    calls: list[tuple[str, float]] = []
    scheduler = make(
        clock,
        lambda check, report, ctx: calls.append((check.name, clock.now)),
        [probe("net", interval=30), probe("svc", interval=60)],
    )
    assert scheduler.tick() == 30
    assert [n for n, _ in calls] == ["net", "svc"]
    clock.advance(29)
    assert scheduler.tick() == 1
    assert len(calls) == 2
    clock.advance(1)
    scheduler.tick()
    assert calls[-1] == ("net", 1030)
    clock.advance(30)
    scheduler.tick()
    assert [n for n, _ in calls] == ["net", "svc", "net", "net", "svc"]


def test_result_records_success_duration_and_finish_time(clock):
    def runner(check, report, ctx):
        clock.advance(0.25)
        report.add("task_queue_depth", 4, queue=check.name)

    scheduler = make(clock, runner, [probe("q")])
    scheduler.tick()
    result, counts = results(scheduler)["q"]
    assert result.success and result.category is None
    assert result.duration == 0.25
    assert result.finished_at == clock.wall()
    assert [(s.name, s.value, s.labels) for s in result.samples] == [
        ("task_queue_depth", 4.0, (("queue", "q"),))
    ]
    assert sum(counts.values()) == 0


def test_failures_are_classified_and_counted(clock):
    errors = iter(
        [ProbeFailure(Category.AUTHENTICATION, "401"), ConnectionRefusedError(111, "refused")]
    )

    def runner(check, report, ctx):
        report.add("probe_http_status_code", 401)
        raise next(errors)

    scheduler = make(clock, runner, [probe("web")])
    scheduler.tick()
    result, counts = results(scheduler)["web"]
    assert (result.success, result.category) == (False, Category.AUTHENTICATION)
    assert result.samples[0].value == 401  # kept although the run failed
    clock.advance(30)
    scheduler.tick()
    result, counts = results(scheduler)["web"]
    assert result.category == Category.CONNECTION
    assert counts == {Category.AUTHENTICATION: 1, Category.CONNECTION: 1}


def test_a_bug_in_a_check_is_a_failure_not_a_crash(clock):
    def runner(check, report, ctx):
        raise RuntimeError("unexpected")

    scheduler = make(clock, runner, [probe("odd")])
    scheduler.tick()
    result, _ = results(scheduler)["odd"]
    assert result.success is False
    assert result.category in set(Category)


def test_a_hanging_run_becomes_a_timeout_and_holds_back_only_its_own_probe(clock):
    held = Held()
    scheduler = make(
        clock, lambda check, report, ctx: None, [probe("hang", interval=30, timeout=5)], spawn=held
    )
    assert scheduler.tick() == 5  # wakes at the run's deadline
    assert results(scheduler)["hang"][0] is None
    clock.advance(5)
    scheduler.tick()
    result, counts = results(scheduler)["hang"]
    assert (result.success, result.category, result.duration) == (False, Category.TIMEOUT, 5)
    assert counts[Category.TIMEOUT] == 1
    clock.advance(25)
    scheduler.tick()
    assert len(held.pending) == 1  # no second run while the first still hangs
    held.release_all()  # the hung run finally returns: its late success is discarded
    assert results(scheduler)["hang"][0].category == Category.TIMEOUT
    clock.advance(30)
    scheduler.tick()
    assert len(held.pending) == 1  # and the probe runs again
    held.release_all()
    assert results(scheduler)["hang"][0].success


def test_other_probes_are_not_held_by_a_hanging_one(clock):
    held = Held()
    ran: list[str] = []
    scheduler = make(
        clock,
        lambda check, report, ctx: ran.append(check.name),
        [probe("hang", timeout=5), probe("fine", interval=10, timeout=5)],
        spawn=held,
    )
    scheduler.tick()
    held.pending[1]()  # "fine" finishes, "hang" never does
    held.pending.clear()
    clock.advance(10)
    scheduler.tick()
    held.release_all()
    assert ran == ["fine", "fine"]
    assert results(scheduler)["fine"][0].success
    assert results(scheduler)["hang"][0].category == Category.TIMEOUT


def test_report_deadline_follows_the_clock(clock):
    seen: list[float] = []

    def runner(check, report, ctx):
        seen.append(report.remaining())
        clock.advance(3)
        seen.append(report.remaining())
        clock.advance(3)
        report.remaining()

    scheduler = make(clock, runner, [probe("slow", timeout=5)])
    scheduler.tick()
    assert seen == [5, 2]
    assert results(scheduler)["slow"][0].category == Category.TIMEOUT


def test_run_forever_returns_when_stopped(clock):
    import threading

    stop = threading.Event()
    stop.set()
    make(clock, lambda *a: None, [probe("x")]).run_forever(stop)
