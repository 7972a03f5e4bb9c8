"""When drills run by themselves: off unless STACK_DRILL_SCHEDULE is set.

`STACK_DRILL_SCHEDULE=plan` is the plan's: the restoration test weekly and the
full-recovery drill (every safe scenario) monthly; or give each scenario its
interval, `restore-test=7d,service-kill=30d` (s, m, h, d; a bare number is
seconds). `make up` then runs `python -m stack drill-schedule` under
supervisord, which runs what is due as one drill, records it like a manual one
(trigger `schedule`), and publishes the schedule for the overdue alert:
`stack_drill_interval_seconds` and `stack_drill_scheduled_since_timestamp_seconds`
per scenario in var/textfile/drill.prom (the system exporter's textfile folder).

`due()` is pure: given when each scenario last ran it says what is due and how
long to sleep, so the tests move a clock instead of waiting.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from stack.drill.scenarios import SCENARIOS, UNSAFE

SCHEDULE_ENV = "STACK_DRILL_SCHEDULE"
DAY = 86400.0
PLAN = {"restore-test": 7 * DAY, "service-kill": 30 * DAY}
OFF = ("", "off", "no", "0", "false")
# A scenario never run is first due this long after it was scheduled (at most its
# interval): the stack settles and the replicas fill first.
FIRST_DELAY = 600.0
# How soon to ask again when the webhook did not answer.
RETRY = 60.0
TEXTFILE = "drill.prom"
SINCE_FILE = "schedule.json"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


class ScheduleError(Exception):
    pass


def parse_schedule(raw: str) -> dict[str, float]:
    """scenario → interval in seconds (empty: off); ScheduleError naming every problem."""
    text = raw.strip()
    if text.lower() in OFF:
        return {}
    if text.lower() == "plan":
        return dict(PLAN)
    found, problems = {}, []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, every = (x.strip() for x in part.partition("="))
        match = _DURATION.match(every)
        if name in UNSAFE:
            problems.append(f"{name}: not safe on a live stack: {UNSAFE[name]}")
        elif name not in SCENARIOS:
            problems.append(
                f"{name or part!r}: no such scenario (there are: {', '.join(SCENARIOS)})"
            )
        elif match is None or float(match.group(1)) <= 0:
            problems.append(
                f"{name}={every}: the interval must be a positive number with s, m, h or d"
            )
        else:
            found[name] = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if problems:
        raise ScheduleError(
            f"{SCHEDULE_ENV}={raw}: "
            + "; ".join(problems)
            + " (off, plan, or NAME=INTERVAL,... e.g. restore-test=7d,service-kill=30d)"
        )
    return found


def schedule_from_env(env: Mapping[str, str]) -> dict[str, float]:
    return parse_schedule(env.get(SCHEDULE_ENV, ""))


def due(
    schedule: Mapping[str, float],
    last_run: Mapping[str, float],
    since: Mapping[str, float],
    now: float,
) -> tuple[list[str], float]:
    """The scenarios due now (in the schedule's order) and the seconds until the
    next one is. A scenario is due an interval after its last drill, passed or
    failed (a failed one is the DrillFailed alert's, not a retry loop's); one
    never run, FIRST_DELAY (at most its interval) after it was scheduled."""
    waits = {}
    for name, every in schedule.items():
        last = last_run.get(name)
        at = last + every if last is not None else since.get(name, now) + min(FIRST_DELAY, every)
        waits[name] = max(0.0, at - now)
    now_due = [name for name, wait in waits.items() if wait == 0]
    later = [wait for wait in waits.values() if wait > 0]
    return now_due, min(later, default=DAY)


def scheduled_since(folder: Path, schedule: Mapping[str, float], now: float) -> dict[str, float]:
    """When each scenario was first scheduled (kept in var/drill/schedule.json;
    scenarios no longer scheduled are forgotten, so turning one on again starts afresh)."""
    path = folder / SINCE_FILE
    try:
        kept = {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        kept = {}
    since = {name: kept.get(name, now) for name in schedule}
    folder.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(since, indent=1))
    temporary.replace(path)
    return since


def registry(schedule: Mapping[str, float], since: Mapping[str, float]) -> CollectorRegistry:
    reg = CollectorRegistry()
    interval = Gauge("stack_drill_interval_seconds", "How often the scenario is drilled.",
                     ["scenario"], registry=reg)  # fmt: skip
    first = Gauge("stack_drill_scheduled_since_timestamp_seconds",
                  "When the scenario was first put on the drill schedule.", ["scenario"],
                  registry=reg)  # fmt: skip
    for name, every in sorted(schedule.items()):
        interval.labels(name).set(every)
        first.labels(name).set(since[name])
    return reg


def publish(textfile: Path, schedule: Mapping[str, float], since: Mapping[str, float]) -> Path:
    textfile.mkdir(parents=True, exist_ok=True)
    path = textfile / TEXTFILE
    write_to_textfile(str(path), registry(schedule, since))
    return path


def unpublish(textfile: Path, folder: Path) -> None:
    """Drills off: no schedule for Prometheus to hold the stack to, none remembered."""
    for path in (textfile / TEXTFILE, folder / SINCE_FILE):
        path.unlink(missing_ok=True)


@dataclass
class Scheduler:
    schedule: Mapping[str, float]
    since: Mapping[str, float]
    # When each scenario last ran (from the store); None: the webhook did not answer.
    last_run: Callable[[], dict[str, float] | None]
    drill: Callable[[list[str]], object]
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # Drills this scheduler started, recorded or not: one the webhook could not
    # record is not run again before its interval (the overdue alert says so).
    attempted: dict[str, float] = field(default_factory=dict)

    def _last(self) -> dict[str, float] | None:
        found = self.last_run()
        if found is None:
            return None
        return {n: max(found.get(n, at), at) for n, at in self.attempted.items()} | {
            n: at for n, at in found.items() if n not in self.attempted
        }

    def tick(self) -> float:
        """Run what is due as one drill; the seconds to sleep before the next tick."""
        last = self._last()
        if last is None:
            return RETRY
        names, _ = due(self.schedule, last, self.since, self.clock())
        if names:
            begun = self.clock()
            self.drill(names)
            self.attempted.update(dict.fromkeys(names, begun))
            last = self._last() or {**last, **self.attempted}
        _, wait = due(self.schedule, last, self.since, self.clock())
        return max(wait, 1.0)

    def loop(self, rounds: int | None = None) -> None:
        done = 0
        while rounds is None or done < rounds:
            done += 1
            self.sleep(min(self.tick(), 3600.0))
