"""The backup schedule `make up` runs under supervisord: a backup every interval,
a verification and retention daily, a restoration test weekly, in one loop.

`due()` is pure: given the status and the time it says which tasks are due and
when to wake next, so the tests move a clock instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from stack.backups.status import Status

DAY = 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class Cadence:
    backup: float
    verify: float = DAY
    restore_test: float = WEEK
    # Retention runs with each daily verification: pruning every few minutes
    # would rewrite the repository's packs for nothing.
    prune: float = DAY
    # A source that was not there yet (the webhook's store, before the webhook has
    # made it) is tried again this soon, until it has been backed up once.
    retry: float = 30.0


def _due_in(last: float | None, every: float, now: float) -> float:
    return 0.0 if last is None else max(0.0, last + every - now)


def due(status: Status, cadence: Cadence, now: float) -> tuple[list[str], float]:
    """The tasks due now, in order, and the seconds until the next one is."""
    missing = any(s.last_success is None and s.note for s in status.sources.values())
    waits = {
        "backup": _due_in(status.last_backup, cadence.retry if missing else cadence.backup, now)
    }
    # Nothing to verify before the first backup.
    if status.last_backup is not None:
        waits["verify"] = _due_in(status.last_verify, cadence.verify, now)
        waits["restore-test"] = _due_in(status.last_restore_test, cadence.restore_test, now)
    tasks = [task for task, wait in waits.items() if wait == 0]
    # A restore test is a verification and more: never both in one round.
    if "restore-test" in tasks and "verify" in tasks:
        tasks.remove("verify")
    if {"verify", "restore-test"} & set(tasks):
        tasks.append("prune")
    later = [wait for wait in waits.values() if wait > 0]
    return tasks, min(later, default=cadence.backup)


def loop(
    status: Callable[[], Status],
    run: Callable[[str], int],
    cadence: Cadence,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Run what is due, sleep until the next is, for ever (or `rounds` times)."""
    done = 0
    while rounds is None or done < rounds:
        done += 1
        tasks, _ = due(status(), cadence, clock())
        for task in tasks:
            run(task)
        pending, wait = due(status(), cadence, clock())
        # What the round made due (the first verification, after the first backup)
        # runs at once. A failed task stays due: it is tried again a backup interval
        # later, and its status shows the failure meanwhile.
        if set(pending) - set(tasks):
            continue
        sleep(min(wait, cadence.backup))
