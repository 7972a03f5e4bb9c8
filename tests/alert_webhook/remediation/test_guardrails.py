"""guardrails.py: each guardrail alone on a fake clock, then composed."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_support import FakeClock

from alert_webhook.fleet.breaker import Pause
from alert_webhook.fleet.settings import BreakerSettings
from alert_webhook.remediation.guardrails import (
    Attempt,
    Candidate,
    Decision,
    Fact,
    Guardrails,
    History,
    attempt_budget,
    blast_radius,
    cooldown,
    default_guardrails,
    dry_run,
    one_at_a_time,
    one_run_per_host,
    precondition,
)
from alert_webhook.remediation.playbooks import Playbook

T = "service=demo,instance=a"


def playbook(**kw: Any) -> Playbook:
    settings = {"name": "restart", "match": {"alertname": "X"}, "cooldown": 60, "window": 3600}
    return Playbook.model_validate(settings | kw)


def candidate(target: str = T, **kw: Any) -> Candidate:
    return Candidate(playbook(**kw), target)


def test_cooldown_per_playbook_and_target(clock: FakeClock) -> None:
    attempts = [Attempt("restart", T, clock.now, "verified")]
    clock.advance(59)
    decision = cooldown(candidate(), History(attempts, clock.now))
    assert decision == Decision(
        "blocked", "cooldown", f"restart acted on {T} 59s ago; cooldown 60s, 1s left"
    )
    # Another target, or another playbook on this target, is not cooling down.
    assert cooldown(candidate("service=demo,instance=b"), History(attempts, clock.now)).allowed
    assert cooldown(candidate(name="drain"), History(attempts, clock.now)).allowed
    clock.advance(1)
    assert cooldown(candidate(), History(attempts, clock.now)).allowed


def test_cooldown_runs_from_the_latest_attempt(clock: FakeClock) -> None:
    attempts = [
        Attempt("restart", T, clock.now - 50, "failed"),
        Attempt("restart", T, clock.now - 10, "failed"),
    ]
    decision = cooldown(candidate(), History(attempts, clock.now))
    assert decision.reason.endswith("10s ago; cooldown 60s, 50s left")


def test_attempt_budget_per_window_stops_a_flapping_alert(clock: FakeClock) -> None:
    c = candidate(max_attempts=3, cooldown=1)
    start = clock.now
    attempts: list[Attempt] = []
    guardrails_met = set()
    # An alert that fires every 10 s for an hour: 360 chances, 3 attempts.
    for _ in range(360):
        decision = attempt_budget(c, History(attempts, clock.now))
        if decision.allowed:
            attempts.append(Attempt("restart", T, clock.now, "failed"))
        else:
            guardrails_met.add(decision.guardrail)
        clock.advance(10)
    assert [a.started_at - start for a in attempts] == [0, 10, 20]
    assert guardrails_met == {"attempt_budget"}


def test_the_budget_frees_as_attempts_leave_the_window(clock: FakeClock) -> None:
    start = clock.now
    attempts = [Attempt("restart", T, start + i * 100, "failed") for i in range(3)]
    clock.now = start + 3000
    decision = attempt_budget(candidate(), History(attempts, clock.now))
    assert decision == Decision(
        "blocked",
        "attempt_budget",
        f"3 attempts of restart on {T} in the last 3600s (at most 3); next in 600s",
    )
    clock.now = start + 3600  # the first has left the window
    assert attempt_budget(candidate(), History(attempts, clock.now)).allowed


def test_blocked_attempts_do_not_count_dry_runs_do(clock: FakeClock) -> None:
    blocked = [Attempt("restart", T, clock.now - i, "blocked") for i in range(1, 10)]
    assert attempt_budget(candidate(), History(blocked, clock.now)).allowed
    assert cooldown(candidate(), History(blocked, clock.now)).allowed
    skipped = [Attempt("restart", T, clock.now - i, "skipped") for i in range(1, 4)]
    assert not attempt_budget(candidate(), History(skipped, clock.now)).allowed


def test_one_remediation_at_a_time_per_target_across_playbooks(clock: FakeClock) -> None:
    running = [Attempt("drain", T, clock.now - 5)]
    assert running[0].running
    decision = one_at_a_time(candidate(), History(running, clock.now))
    assert decision == Decision("blocked", "one_at_a_time", f"drain is already acting on {T}")
    assert one_at_a_time(candidate("other"), History(running, clock.now)).allowed
    finished = [Attempt("drain", T, clock.now - 5, "verified")]
    assert one_at_a_time(candidate(), History(finished, clock.now)).allowed


def test_blast_radius_limits_distinct_targets_per_playbook(clock: FakeClock) -> None:
    attempts = [Attempt("restart", f"t{i}", clock.now - 100 * i, "verified") for i in range(3)]
    c = candidate("t9", blast_radius=3)
    decision = blast_radius(c, History(attempts, clock.now))
    assert decision == Decision(
        "blocked",
        "blast_radius",
        "restart already acted on 3 targets in the last 3600s (at most 3)",
    )
    # A target already counted adds nothing to the radius.
    assert blast_radius(candidate("t1", blast_radius=3), History(attempts, clock.now)).allowed
    # Other playbooks' targets are theirs.
    assert blast_radius(
        candidate("t9", blast_radius=3, name="drain"), History(attempts, clock.now)
    ).allowed
    clock.advance(3600 - 200)  # t2's attempt leaves the window
    assert blast_radius(c, History(attempts, clock.now)).allowed


@pytest.mark.parametrize(
    ("switch", "book_dry", "verdict", "reason"),
    [
        (False, False, "run", ""),
        (True, False, "dry_run", "remediation is in dry-run mode"),
        (False, True, "dry_run", "restart is a dry run"),
        (True, True, "dry_run", "remediation is in dry-run mode"),
    ],
)
def test_dry_run_global_switch_and_per_playbook(
    switch: bool, book_dry: bool, verdict: str, reason: str, clock: FakeClock
) -> None:
    decision = dry_run(switch)(candidate(dry_run=book_dry), History([], clock.now))
    assert (decision.verdict, decision.reason) == (verdict, reason)


def test_composed_first_refusal_decides_and_blocking_lists_them_all(clock: FakeClock) -> None:
    attempts = [
        Attempt("restart", T, clock.now - 30, "failed"),
        Attempt("restart", T, clock.now - 20, "failed"),
        Attempt("restart", T, clock.now - 10, "failed"),
    ]
    rails = default_guardrails(global_dry_run=True)
    history = History(attempts, clock.now)
    assert rails.decide(candidate(), history).guardrail == "cooldown"
    assert [d.guardrail for d in rails.blocking(candidate(), history)] == [
        "cooldown",
        "attempt_budget",
        "dry_run",
    ]
    # Nothing on record: a dry run says so rather than running.
    assert rails.decide(candidate(), History([], clock.now)).verdict == "dry_run"
    assert default_guardrails().decide(candidate(), History([], clock.now)).allowed


def test_policies_compose_as_plain_callables(clock: FakeClock) -> None:
    def weekdays_only(c: Candidate, h: History) -> Decision:
        return Decision("blocked", "weekdays_only", "not today")

    rails = Guardrails((one_at_a_time, weekdays_only, cooldown))
    assert rails.decide(candidate(), History([], clock.now)).guardrail == "weekdays_only"
    assert Guardrails(()).decide(candidate(), History([], clock.now)).allowed


def test_the_precondition_is_read_from_the_fact_the_runner_passes(clock: FakeClock) -> None:
    pre = {"query": "avg(up) >= 0.8", "reason": "most of the pool is up"}
    history = History([], clock.now)
    assert precondition(candidate(), history).allowed  # the playbook has none
    book = playbook(precondition=pre)
    unjudged = precondition(Candidate(book, T), history)
    assert (unjudged.verdict, unjudged.reason) == ("blocked", "most of the pool is up: not judged")
    empty = Fact(False, "avg(up) >= 0.8 returned nothing")
    failing = precondition(Candidate(book, T, empty), history)
    assert (failing.guardrail, failing.reason) == (
        "precondition", "most of the pool is up: avg(up) >= 0.8 returned nothing",
    )  # fmt: skip
    assert precondition(Candidate(book, T, Fact(True, "1 series")), history).allowed
    # Composed before the dry run, so a dry run still names it.
    dry = default_guardrails(global_dry_run=True).blocking(Candidate(book, T), history)
    assert [d.guardrail for d in dry] == ["precondition", "dry_run"]


def test_one_run_per_host_names_the_run_acting_there(clock: FakeClock) -> None:
    acting = [Attempt("cleanup", "service=db", clock.now - 5, None, "host-2", 41)]
    on = Candidate(playbook(), T, host="host-2")
    assert one_run_per_host(on, History(acting, clock.now)) == Decision(
        "blocked", "one_run_per_host",
        "run 41 cleanup on service=db is already acting on host host-2",
    )  # fmt: skip
    assert one_run_per_host(
        Candidate(playbook(), T, host="host-3"), History(acting, clock.now)
    ).allowed
    assert one_run_per_host(candidate(), History(acting, clock.now)).allowed  # this machine
    ended = [Attempt("cleanup", "service=db", clock.now - 5, "failed", "host-2", 41)]
    assert one_run_per_host(on, History(ended, clock.now)).allowed


def test_the_fleet_breaker_blocks_while_paused_and_trips_after_the_dry_run(
    clock: FakeClock,
) -> None:
    limits = BreakerSettings(max_hosts=1)
    guardrails = default_guardrails(fleet=limits)
    acted = [Attempt("restart", "service=other", clock.now - 5, "verified", "host-1", 3)]
    on_host_2 = Candidate(playbook(), T, host="host-2")
    decision = guardrails.decide(on_host_2, History(acted, clock.now))
    assert (decision.verdict, decision.guardrail) == ("blocked", "fleet_breaker")
    assert decision.reason.startswith("the fleet breaker trips (max_hosts): acting on host-2")
    # a dry run acts on nothing, so it trips nothing
    dry = default_guardrails(True, limits).decide(on_host_2, History(acted, clock.now))
    assert dry.verdict == "dry_run"
    # paused: every run is blocked, first of all, saying why and since when
    paused = Pause(1, clock.now - 60, "max_failed", "4 runs failed", {}, 9)
    held = guardrails.decide(candidate(), History([], clock.now, paused))
    assert held.guardrail == "fleet_breaker"
    assert held.reason == (
        "fleet automation paused since 2027-01-15 07:59:00 UTC: 4 runs failed; "
        "until an operator resumes it"
    )
