"""Runs every probe on its own interval in the background; scrapes only read results.

Each run gets its own thread, so a target that hangs holds only its own run and
never a shared worker. A run still going past its timeout is abandoned: it is
recorded as a `timeout` failure at once, its late result is discarded, and no new
run of that probe starts until the hung one returns (so hung threads are bounded
by the number of probes). The clock and the thread starter are parameters, so the
scheduler's tests move a fake clock and never sleep.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from exporters.categories import Category, ProbeFailure, classify
from exporters.checks.base import Boundaries, Report, Sample
from exporters.probe_config import Probe, Runner

log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], None]


def start_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="probe-run", daemon=True).start()


@dataclass(frozen=True)
class Result:
    """The last finished run of one probe."""

    success: bool
    category: Category | None
    message: str
    duration: float
    finished_at: float  # unix time
    samples: tuple[Sample, ...] = ()


@dataclass
class _Run:
    generation: int
    deadline: float
    abandoned: bool = False


@dataclass
class ProbeState:
    probe: Probe
    next_due: float
    result: Result | None = None
    failures: Counter[Category] = field(default_factory=Counter)
    running: _Run | None = None
    generation: int = 0


class Scheduler:
    def __init__(
        self,
        probes: Sequence[Probe],
        runners: Mapping[str, Runner],
        ctx: Boundaries | None = None,
        spawn: Spawn = start_thread,
    ) -> None:
        self.ctx = ctx or Boundaries()
        self.runners = runners
        self.spawn = spawn
        self._lock = threading.Lock()
        now = self.ctx.monotonic()
        self.states = [ProbeState(probe, next_due=now) for probe in probes]

    def tick(self) -> float:
        """Start due runs, expire overdue ones; seconds until something is due next."""
        now = self.ctx.monotonic()
        to_start: list[tuple[ProbeState, int]] = []
        with self._lock:
            for state in self.states:
                run = state.running
                if run and not run.abandoned and now >= run.deadline:
                    run.abandoned = True
                    self._record_failure(
                        state,
                        Category.TIMEOUT,
                        "no result within the timeout; run abandoned",
                        duration=state.probe.timeout,
                        samples=(),
                    )
                if now >= state.next_due:
                    state.next_due = now + state.probe.interval
                    if state.running is None:
                        state.generation += 1
                        state.running = _Run(state.generation, now + state.probe.timeout)
                        to_start.append((state, state.generation))
        for state, generation in to_start:
            self.spawn(lambda s=state, g=generation: self._execute(s, g))  # type: ignore[misc]
        with self._lock:
            wake = [s.next_due for s in self.states]
            wake += [
                s.running.deadline for s in self.states if s.running and not s.running.abandoned
            ]
        return max(0.0, min(wake, default=60.0) - self.ctx.monotonic())

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            stop.wait(self.tick())

    def snapshot(self) -> list[tuple[Probe, Result | None, Counter[Category]]]:
        with self._lock:
            return [(s.probe, s.result, Counter(s.failures)) for s in self.states]

    def _execute(self, state: ProbeState, generation: int) -> None:
        probe = state.probe
        report = Report(probe.timeout, self.ctx.monotonic)
        start = self.ctx.monotonic()
        failure: tuple[Category, str] | None = None
        try:
            self.runners[probe.kind](probe.check, report, self.ctx)
        except ProbeFailure as exc:
            failure = (exc.category, str(exc))
        except Exception as exc:  # every failure is classified, none escapes
            failure = (classify(exc), f"{type(exc).__name__}: {exc}")
        duration = self.ctx.monotonic() - start
        with self._lock:
            run = state.running
            if run is None or run.generation != generation:
                return
            state.running = None
            if run.abandoned:
                return
            if failure is None:
                if state.result is not None and not state.result.success:
                    log.info("probe %s recovered", probe.name)
                state.result = Result(
                    True, None, "", duration, self.ctx.wall(), tuple(report.samples)
                )
            else:
                self._record_failure(
                    state, *failure, duration=duration, samples=tuple(report.samples)
                )

    def _record_failure(
        self,
        state: ProbeState,
        category: Category,
        message: str,
        duration: float,
        samples: tuple[Sample, ...],
    ) -> None:
        previous = state.result
        if previous is None or previous.success or previous.category != category:
            log.warning("probe %s failed (%s): %s", state.probe.name, category, message)
        state.failures[category] += 1
        state.result = Result(False, category, message, duration, self.ctx.wall(), samples)
