"""Collectors run off the scrape's thread, each under a timeout, so one hung source
holds no scrape.

A statvfs on an unreachable NFS mount never returns; neither would a scrape that
waited for it. A scrape hands its collectors, in order, to one worker thread and
waits for the worker, allowing each collector at most `timeout` from when it
began. One that has not finished by then is reported failed and left behind with
the worker stuck in it; a fresh worker takes the collectors after it, and the
stuck one, should it ever return, runs nothing more. While a collector is still
stuck, later scrapes report it failed at once and give it no new thread, so hung
threads never outnumber the collectors. When it does return, its late result is
dropped and the next scrape runs it afresh.

One worker for the whole list rather than a thread per collector: the collectors
are short reads that hold the GIL, and sixteen threads contending for it made a
scrape three times slower than running them in turn.

The clock, the thread starter and the wait are parameters: the tests hold a
worker in a fake thread and move a fake clock instead of waiting out a timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import Metric

from exporters.host.base import NoData

log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], None]
# (the collector running now, the worker's finished event, seconds that collector may
# still take) → did the worker finish in that time?
Wait = Callable[[str, threading.Event, float], bool]


def start_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="collectors", daemon=True).start()


def wait_event(name: str, done: threading.Event, timeout: float) -> bool:
    return done.wait(timeout)


@dataclass(frozen=True)
class Outcome:
    """What one collector gave this scrape."""

    success: bool
    duration: float
    families: list[Metric] = field(default_factory=list)


@dataclass
class _Run:
    name: str
    collect: Callable[[], Iterable[Metric]]
    clock: Callable[[], float]
    started: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    families: list[Metric] = field(default_factory=list)
    success: bool = False
    duration: float = 0.0

    def execute(self) -> None:
        self.started = self.clock()
        try:
            self.families = list(self.collect())
            self.success = True
        except NoData as exc:
            log.debug("collector %s has no data here: %s", self.name, exc)
        except Exception:
            log.exception("collector %s failed", self.name)
        finally:
            self.duration = self.clock() - self.started
            self.done.set()


@dataclass
class _Worker:
    """Runs its collectors in order; abandoned in one, it stops after that one.

    It still finishes (or first starts, if it began late) the collector it was
    abandoned in, so that run ends as done and the collector is not hung forever;
    the ones after it belong to a fresh worker.
    """

    runs: Sequence[_Run]
    abandoned_in: int | None = None
    current: int = 0
    finished: threading.Event = field(default_factory=threading.Event)

    def __call__(self) -> None:
        for index, run in enumerate(self.runs):
            if self.abandoned_in is not None and index > self.abandoned_in:
                return
            self.current = index
            run.execute()
        self.finished.set()


class CollectorRuns:
    """Runs named collectors, each under `timeout`; remembers the ones still hung."""

    def __init__(
        self,
        timeout: float,
        clock: Callable[[], float],
        spawn: Spawn = start_thread,
        wait: Wait = wait_event,
    ) -> None:
        self.timeout = timeout
        self.clock = clock
        self.spawn = spawn
        self.wait = wait
        self._hung: dict[str, _Run] = {}
        self._lock = threading.Lock()  # two scrapes at once share the hung table

    def run(self, collectors: Mapping[str, Callable[[], Iterable[Metric]]]) -> dict[str, Outcome]:
        start = self.clock()
        outcomes: dict[str, Outcome] = {}
        runs: list[_Run] = []
        with self._lock:
            for name, collect in collectors.items():
                hung = self._hung.get(name)
                if hung is not None and not hung.done.is_set():
                    outcomes[name] = Outcome(False, start - (hung.started or start))
                    continue
                self._hung.pop(name, None)
                runs.append(_Run(name, collect, self.clock))
        first = 0  # runs[first:] belong to `worker`
        worker = self._start(runs)
        seen: dict[int, float] = {}  # when a run not yet begun was first waited for
        while first < len(runs):
            # One wait for the whole list while nothing is slow: waking the scrape's
            # thread after each collector would cost a GIL hand-off each time.
            index = self._current(runs, first, worker)
            run = runs[index]
            began = run.started if run.started is not None else seen.setdefault(index, self.clock())
            allowed = self.timeout - (self.clock() - began)
            if self.wait(run.name, worker.finished, max(0.0, allowed)):
                break
            if self._current(runs, first, worker) != index or run.done.is_set():
                continue  # the worker moved on; the next collector has its own time
            began = run.started if run.started is not None else seen[index]
            if self.clock() - began < self.timeout:
                continue
            log.warning("collector %s did not finish within %gs; abandoned", run.name, self.timeout)
            run.started = began
            worker.abandoned_in = index - first
            with self._lock:
                self._hung[run.name] = run
            outcomes[run.name] = Outcome(False, self.clock() - began)
            first = index + 1
            worker = self._start(runs[first:])
        for run in runs:
            if run.name not in outcomes:
                outcomes[run.name] = Outcome(run.success, run.duration, run.families)
        return {name: outcomes[name] for name in collectors}

    @staticmethod
    def _current(runs: Sequence[_Run], first: int, worker: _Worker) -> int:
        index = first + worker.current
        if runs[index].done.is_set() and index + 1 < len(runs):
            index += 1  # between two collectors: the next one is about to begin
        return index

    def _start(self, runs: Sequence[_Run]) -> _Worker:
        worker = _Worker(runs)
        if runs:
            self.spawn(worker)
        else:
            worker.finished.set()
        return worker

    def hung(self) -> list[str]:
        with self._lock:
            return [name for name, run in self._hung.items() if not run.done.is_set()]
