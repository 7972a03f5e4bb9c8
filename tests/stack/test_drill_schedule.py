"""The drill schedule: off by default, the plan's or one of your own, every
problem named; what is due on a fake clock (first soon after it was scheduled,
then an interval after the last drill, passed or failed); the scheduler runs
what is due as one drill and never loops on a drill it could not record."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.drill.schedule import (
    DAY,
    FIRST_DELAY,
    PLAN,
    RETRY,
    ScheduleError,
    Scheduler,
    parse_schedule,
    publish,
    registry,
    schedule_from_env,
    scheduled_since,
    unpublish,
)

WEEK = 7 * DAY


def test_drills_are_off_by_default() -> None:
    assert schedule_from_env({}) == {}
    for off in ("", "off", "OFF", " no "):
        assert parse_schedule(off) == {}


def test_plan_is_the_weekly_restore_test_and_the_monthly_full_drill() -> None:
    assert parse_schedule("plan") == PLAN == {"restore-test": WEEK, "service-kill": 30 * DAY}
    assert parse_schedule("restore-test=1d, service-kill=90m") == {
        "restore-test": DAY, "service-kill": 5400.0,
    }  # fmt: skip
    assert parse_schedule("restore-test=30") == {"restore-test": 30.0}


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("restore-test=0d,data-corruption=1d,nope=1h,service-kill=weekly")
    text = str(caught.value)
    assert text.startswith("STACK_DRILL_SCHEDULE=restore-test=0d,")
    assert "restore-test=0d: the interval must be a positive number" in text
    assert "data-corruption: not safe on a live stack: it garbles the live orders file" in text
    assert "'nope': no such scenario (there are: restore-test, service-kill)" in text
    assert "service-kill=weekly" in text


def make(schedule, since, runs, now):
    ran: list[list[str]] = []
    clock = {"now": now}

    def drill(names: list[str]) -> None:
        ran.append(names)
        if runs is not None:
            runs.update(dict.fromkeys(names, clock["now"]))
        clock["now"] += 30

    scheduler = Scheduler(schedule, since, lambda: None if runs is None else dict(runs), drill,
                          clock=lambda: clock["now"])  # fmt: skip
    return scheduler, ran, clock


def test_a_new_schedule_runs_its_first_drill_soon_then_each_interval() -> None:
    scheduler, ran, clock = make(PLAN, dict.fromkeys(PLAN, 1000.0), {}, 1000.0)
    assert scheduler.tick() == FIRST_DELAY and ran == []
    clock["now"] = 1000.0 + FIRST_DELAY
    # Both due at once: one drill with both.
    assert scheduler.tick() == pytest.approx(WEEK - 30)
    assert ran == [["restore-test", "service-kill"]]
    clock["now"] += WEEK - 30
    assert scheduler.tick() == pytest.approx(WEEK - 30)
    assert ran[-1] == ["restore-test"]
    clock["now"] = 1000.0 + FIRST_DELAY + 30 * DAY
    scheduler.tick()
    assert ran[-1] == ["restore-test", "service-kill"] and len(ran) == 3


def test_a_short_interval_is_first_due_within_it() -> None:
    scheduler, ran, clock = make({"restore-test": 60.0}, {"restore-test": 0.0}, {}, 0.0)
    assert scheduler.tick() == 60.0
    clock["now"] = 60.0
    scheduler.tick()
    assert ran == [["restore-test"]]


def test_an_overdue_scenario_runs_at_once_and_a_failed_one_waits_its_interval() -> None:
    # Last drilled (passed or failed: the store's newest run) three weeks ago.
    runs = {"restore-test": 0.0}
    scheduler, ran, clock = make({"restore-test": WEEK}, {"restore-test": 0.0}, runs, 3 * WEEK)
    assert scheduler.tick() == pytest.approx(WEEK - 30) and ran == [["restore-test"]]
    clock["now"] += 3600
    assert scheduler.tick() > DAY and len(ran) == 1


def test_no_webhook_no_drill_and_an_unrecorded_drill_is_not_run_again() -> None:
    scheduler, ran, clock = make({"restore-test": WEEK}, {"restore-test": 0.0}, None, WEEK)
    assert scheduler.tick() == RETRY and ran == []
    answers = iter([{}, None, {}])
    scheduler = Scheduler({"restore-test": WEEK}, {"restore-test": 0.0}, lambda: next(answers),
                          ran.append, clock=lambda: clock["now"])  # fmt: skip
    # The drill ran but was not recorded (the store has no run of it): not again at once.
    assert scheduler.tick() == pytest.approx(WEEK) and ran == [["restore-test"]]


def test_the_loop_sleeps_what_tick_says_at_most_an_hour() -> None:
    slept: list[float] = []
    scheduler = Scheduler({"restore-test": WEEK}, {"restore-test": 0.0}, lambda: {},
                          lambda names: None, clock=lambda: 0.0, sleep=slept.append)  # fmt: skip
    scheduler.loop(rounds=2)
    assert slept == [FIRST_DELAY, FIRST_DELAY]


def test_the_schedule_is_kept_since_it_began_and_published(tmp_path: Path) -> None:
    folder, textfile = tmp_path / "drill", tmp_path / "textfile"
    assert scheduled_since(folder, {"restore-test": WEEK}, 100.0) == {"restore-test": 100.0}
    both = scheduled_since(folder, PLAN, 500.0)
    assert both == {"restore-test": 100.0, "service-kill": 500.0}
    # Taken off the schedule: forgotten; put back: counted afresh.
    assert scheduled_since(folder, {"service-kill": 1.0}, 900.0) == {"service-kill": 500.0}
    assert scheduled_since(folder, PLAN, 950.0)["restore-test"] == 950.0
    reg = registry(PLAN, both)
    weekly = reg.get_sample_value("stack_drill_interval_seconds", {"scenario": "restore-test"})
    assert weekly == WEEK
    assert (
        reg.get_sample_value(
            "stack_drill_scheduled_since_timestamp_seconds", {"scenario": "service-kill"}
        )
        == 500.0
    )
    path = publish(textfile, PLAN, both)
    assert 'stack_drill_interval_seconds{scenario="service-kill"} 2.592e+06' in path.read_text()
    unpublish(textfile, folder)
    assert not path.exists() and not (folder / "schedule.json").exists()
