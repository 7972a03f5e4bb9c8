"""Collectors run off the scrape's thread, each under a timeout, so one hung source
holds no scrape.

A statvfs on an unreachable NFS mount never returns; neither would a scrape that
waited for it. A scrape hands its collectors, in order, to one worker thread and
waits for each in turn, at most `timeout` from when it began. One that has not
finished by then is reported failed and left behind with the worker stuck in it;
a fresh worker takes the collectors after it, and the stuck one, should it ever
return, runs nothing more. While a collector is still stuck, later scrapes report
it failed at once and give it no new thread, so hung threads never outnumber the
collectors. When it does return, its late result is dropped and the next scrape
runs it afresh.

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
# (collector name, its done event, seconds it may still take) → finished in time?
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
    started: float
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

    def __call__(self) -> None:
        for index, run in enumerate(self.runs):
            if self.abandoned_in is not None and index > self.abandoned_in:
                return
            run.execute()


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
                    outcomes[name] = Outcome(False, start - hung.started)
                    continue
                self._hung.pop(name, None)
                runs.append(_Run(name, collect, self.clock, start))
        worker, first = self._start(runs), 0
        for index, run in enumerate(runs):
            # Each collector's time starts when the one before it finished.
            if self.wait(run.name, run.done, self.timeout):
                outcomes[run.name] = Outcome(run.success, run.duration, run.families)
                continue
            log.warning("collector %s did not finish within %gs; abandoned", run.name, self.timeout)
            worker.abandoned_in = index - first
            with self._lock:
                self._hung[run.name] = run
            outcomes[run.name] = Outcome(False, self.clock() - run.started)
            worker, first = self._start(runs[index + 1 :]), index + 1
        return {name: outcomes[name] for name in collectors}

    def _start(self, runs: Sequence[_Run]) -> _Worker:
        worker = _Worker(runs)
        if runs:
            self.spawn(worker)
        return worker

    def hung(self) -> list[str]:
        with self._lock:
            return [name for name, run in self._hung.items() if not run.done.is_set()]
