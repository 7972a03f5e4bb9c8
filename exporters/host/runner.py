"""Each collector in its own thread, with a deadline, so one hung source holds no scrape.

A statvfs on an unreachable NFS mount never returns; neither would a scrape that
waited for it. Every collector of a scrape starts at once in its own thread and
the scrape waits for all of them until `timeout` after its start. One that has not
finished by then is reported failed and left behind; while it is still stuck, later
scrapes report it failed at once and start no second thread for it, so hung
threads never number more than the collectors. When it does return, its late
result is dropped and the next scrape runs it afresh.

The clock, the thread starter and the wait are parameters: the tests hold a run
in a fake thread and move a fake clock instead of waiting out a timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import Metric

from exporters.host.base import NoData

log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], None]
Wait = Callable[[threading.Event, float], bool]


def start_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="collector", daemon=True).start()


def wait_event(done: threading.Event, timeout: float) -> bool:
    return done.wait(timeout)


@dataclass(frozen=True)
class Outcome:
    """What one collector gave this scrape."""

    success: bool
    duration: float
    families: list[Metric] = field(default_factory=list)


@dataclass
class _Run:
    collect: Callable[[], Iterable[Metric]]
    clock: Callable[[], float]
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    families: list[Metric] = field(default_factory=list)
    success: bool = False
    duration: float = 0.0

    def execute(self, name: str) -> None:
        try:
            self.families = list(self.collect())
            self.success = True
        except NoData as exc:
            log.debug("collector %s has no data here: %s", name, exc)
        except Exception:
            log.exception("collector %s failed", name)
        finally:
            self.duration = self.clock() - self.started
            self.done.set()


class CollectorRuns:
    """Runs named collectors with one deadline; remembers the ones still hung."""

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
        started: dict[str, _Run] = {}
        with self._lock:
            for name, collect in collectors.items():
                hung = self._hung.get(name)
                if hung is not None and not hung.done.is_set():
                    outcomes[name] = Outcome(False, start - hung.started)
                    continue
                self._hung.pop(name, None)
                started[name] = _Run(collect, self.clock, start)
        for name, run in started.items():
            self.spawn(lambda run=run, name=name: run.execute(name))  # type: ignore[misc]
        deadline = start + self.timeout
        for name, run in started.items():
            if self.wait(run.done, max(0.0, deadline - self.clock())):
                outcomes[name] = Outcome(run.success, run.duration, run.families)
                continue
            log.warning("collector %s did not finish within %gs; abandoned", name, self.timeout)
            with self._lock:
                self._hung[name] = run
            outcomes[name] = Outcome(False, self.clock() - start)
        return {name: outcomes[name] for name in collectors}

    def hung(self) -> list[str]:
        with self._lock:
            return [name for name, run in self._hung.items() if not run.done.is_set()]
