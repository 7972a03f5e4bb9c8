"""The backup schedule on a fake clock: what is due when, and how long it sleeps."""

from __future__ import annotations

from stack.backups.schedule import DAY, WEEK, Cadence, due, loop
from stack.backups.status import SourceStatus, Status

CADENCE = Cadence(backup=300)


def status(**fields) -> Status:
    return Status(interval_seconds=300, **fields)


def test_the_first_round_backs_up_and_nothing_else():
    assert due(status(), CADENCE, now=1000.0) == (["backup"], 300)


def test_after_the_first_backup_the_first_restore_test_runs_with_retention():
    tasks, _ = due(status(last_backup=1000.0), CADENCE, now=1000.0)
    assert tasks == ["restore-test", "prune"]


def test_backups_every_interval_verify_daily_restore_test_weekly():
    now = 10 * WEEK
    settled = status(last_backup=now, last_verify=now, last_restore_test=now)
    assert due(settled, CADENCE, now) == ([], 300)
    assert due(settled, CADENCE, now + 300)[0] == ["backup"]
    day_later = status(last_backup=now + DAY, last_verify=now, last_restore_test=now)
    assert due(day_later, CADENCE, now + DAY)[0] == ["verify", "prune"]
    week_later = status(last_backup=now + WEEK, last_verify=now + WEEK - 1, last_restore_test=now)
    assert due(week_later, CADENCE, now + WEEK)[0] == ["restore-test", "prune"]


def test_the_loop_runs_what_is_due_and_sleeps_until_the_next(tmp_path):
    clock = {"now": 1000.0}
    state = {"status": status()}
    ran: list[str] = []
    slept: list[float] = []

    def run(task: str) -> int:
        ran.append(task)
        if task == "backup":
            state["status"] = state["status"].model_copy(update={"last_backup": clock["now"]})
        return 0

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds

    loop(lambda: state["status"], run, CADENCE, clock=lambda: clock["now"], sleep=sleep, rounds=3)

    # The first backup makes the first restore test due: it runs without a sleep.
    # It keeps failing here (its run never records success), so it is tried again
    # in each later round, one backup interval apart.
    assert ran == ["backup", "restore-test", "prune", "backup", "restore-test", "prune"]
    assert slept == [300, 300]


def test_a_source_not_there_yet_is_tried_again_soon_until_backed_up_once():
    not_yet = SourceStatus(note="webhook-store: no database at var/webhook.sqlite3 yet")
    first = status(last_backup=1000.0, last_verify=1000.0, last_restore_test=1000.0)
    first.sources = {"webhook-store": not_yet}
    assert due(first, CADENCE, now=1010.0) == ([], 20)
    assert due(first, CADENCE, now=1030.0)[0] == ["backup"]
    # Skipped after it had been backed up (Alertmanager stopped): the usual interval.
    first.sources = {"silences": SourceStatus(last_success=900.0, note="not running")}
    assert due(first, CADENCE, now=1030.0) == ([], 270)
