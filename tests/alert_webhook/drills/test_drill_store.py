"""The drills on record: a report parsed at the edge with every problem named,
stored whole (the drill and all its results, or nothing), read back newest
first, summarised per scenario for the metrics."""

from __future__ import annotations

import pytest

from alert_webhook.drills.record import ReportError, parse_report


def report(*results: dict, started: float = 100.0, finished: float = 130.0, **extra) -> dict:
    return {"started_at": started, "finished_at": finished, "results": list(results), **extra}


def result(scenario: str, ok: bool, at: float, recovery: float | None = None) -> dict:
    return {"scenario": scenario, "ok": ok, "started_at": at, "finished_at": at + 5,
            "recovery_seconds": recovery, "detail": f"{scenario} at {at}"}  # fmt: skip


def test_every_problem_of_a_report_is_named_at_once() -> None:
    with pytest.raises(ReportError) as caught:
        parse_report(report(
            {"scenario": "Bad Name", "ok": True, "started_at": 5, "finished_at": 1},
            result("restore-test", True, 1), result("restore-test", False, 2),
            started=10, finished=5, trigger="cron",
        ))  # fmt: skip
    problems = caught.value.problems
    assert any(p.startswith("results.0.scenario:") for p in problems), problems
    assert any(p.startswith("trigger:") for p in problems), problems
    # A model's own checks run once its fields are sound.
    with pytest.raises(ReportError, match="results.0: Value error, finished_at is before"):
        parse_report(report({"scenario": "x", "ok": True, "started_at": 5, "finished_at": 1}))
    with pytest.raises(ReportError, match="at least 1"):
        parse_report(report())
    with pytest.raises(ReportError, match="body"):
        parse_report(None)


def test_a_duplicate_scenario_refuses_the_whole_report() -> None:
    with pytest.raises(ReportError, match="listed twice"):
        parse_report(report(result("restore-test", True, 1), result("restore-test", False, 2)))


def test_a_drill_is_stored_with_its_results_and_read_newest_first(store) -> None:
    first = parse_report(report(result("restore-test", True, 100, 1.5),
                                result("service-kill", True, 110, 8.2)))  # fmt: skip
    second = parse_report(report(result("service-kill", False, 200), started=200.0,
                                 finished=260.0, trigger="schedule"))  # fmt: skip
    assert first.ok and not second.ok
    ids = [store.drills.add(first, 131.0), store.drills.add(second, 261.0)]
    newest, oldest = store.drills.recent()
    assert (newest.id, oldest.id) == (ids[1], ids[0])
    assert (newest.trigger, newest.ok, oldest.ok) == ("schedule", False, True)
    assert [r.scenario for r in oldest.results] == ["restore-test", "service-kill"]
    assert oldest.results[1].recovery_seconds == 8.2
    assert [d.id for d in store.drills.recent(1)] == [ids[1]]
    assert store.count("drills") == 2 and store.count("drill_results") == 3


def test_each_scenario_is_summarised_by_its_newest_run_and_newest_success(store) -> None:
    both = report(result("restore-test", True, 100, 1.5), result("service-kill", True, 110, 8.2))
    store.drills.add(parse_report(both), 131.0)
    store.drills.add(parse_report(report(result("service-kill", False, 200))), 261.0)
    kill, restore = sorted(store.drills.summaries(), key=lambda s: s.scenario, reverse=True)
    assert (kill.scenario, kill.last_run_at, kill.last_run_ok) == ("service-kill", 205.0, False)
    assert (kill.last_success_at, kill.last_success_recovery_seconds) == (115.0, 8.2)
    assert (kill.passed, kill.failed) == (1, 1)
    assert (restore.last_run_ok, restore.last_success_at, restore.passed) == (True, 105.0, 1)


def test_nothing_on_record_is_no_summary(store) -> None:
    assert store.drills.summaries() == [] and store.drills.recent() == []
