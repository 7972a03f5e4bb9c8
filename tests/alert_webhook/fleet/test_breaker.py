"""fleet/breaker.py: each limit alone on a fake clock, the share's minimum, the
window, resumes by operators and by `resume_after`."""

from __future__ import annotations

from typing import Any

from webhook_support import FakeClock

from alert_webhook.fleet.breaker import Pause, Trip, in_force, page_text, tripped
from alert_webhook.fleet.settings import BreakerSettings
from alert_webhook.remediation.guardrails import Attempt

WIDE = {"max_failed": 100, "max_failed_share": 1.0, "max_hosts": 100}


def limits(**kw: Any) -> BreakerSettings:
    return BreakerSettings.model_validate(WIDE | {"window": 600} | kw)


def run(n: int, at: float, outcome: str | None, host: str | None = None) -> Attempt:
    return Attempt("restart", f"service=s{n}", at, outcome, host, n)


def failures(count: int, at: float) -> list[Attempt]:
    return [run(i + 1, at + i, "failed" if i % 2 else "ineffective") for i in range(count)]


def test_more_than_max_failed_trips(clock: FakeClock) -> None:
    at = clock.now - 100
    assert tripped(limits(max_failed=3), failures(3, at), None, clock.now) is None
    trip = tripped(limits(max_failed=3), failures(4, at), None, clock.now)
    assert isinstance(trip, Trip)
    assert (trip.limit, trip.failed, [a.run_id for a in trip.runs]) == (
        "max_failed",
        4,
        [1, 2, 3, 4],
    )
    assert trip.reason == (
        "4 runs failed or were ineffective in the last 10m, more than max_failed 3: "
        "run 1 restart on this machine ineffective, run 2 restart on this machine failed, "
        "run 3 restart on this machine ineffective, run 4 restart on this machine failed"
    )


def test_runs_still_acting_verified_blocked_or_dry_are_not_failures(clock: FakeClock) -> None:
    at = clock.now - 100
    others = [run(10, at, None), run(11, at, "verified"), run(12, at, "blocked"),
              run(13, at, "skipped")]  # fmt: skip
    assert tripped(limits(max_failed=1), [*failures(1, at), *others], None, clock.now) is None


def test_the_share_is_judged_from_min_runs(clock: FakeClock) -> None:
    at = clock.now - 100
    share = limits(max_failed_share=0.5, min_runs=4)
    # 3 of 3 failed: all of them, but too few runs to judge a share
    assert tripped(share, failures(3, at), None, clock.now) is None
    # 2 of 4: not more than half
    half = [*failures(2, at), run(3, at + 5, "verified"), run(4, at + 6, "verified")]
    assert tripped(share, half, None, clock.now) is None
    # 3 of 4: more than half
    trip = tripped(share, [*failures(3, at), run(4, at + 6, "verified")], None, clock.now)
    assert trip is not None and (trip.limit, trip.failed, trip.ended) == ("max_failed_share", 3, 4)
    assert trip.reason.startswith(
        "3 of 4 runs (75 %) failed or were ineffective in the last 10m, more than "
        "max_failed_share 50 % (judged from 4 runs): run 1 restart"
    )


def test_one_host_past_max_hosts_is_never_acted_on(clock: FakeClock) -> None:
    at = clock.now - 100
    acted = [run(1, at, "failed", "host-1"), run(2, at + 1, None, "host-2"),
             run(3, at + 2, "verified", "host-1")]  # fmt: skip
    two = limits(max_hosts=2)
    assert tripped(two, acted, "host-1", clock.now) is None  # a host acted on already
    assert tripped(two, acted, "host-2", clock.now) is None
    trip = tripped(two, acted, "host-3", clock.now)
    assert trip is not None and trip.limit == "max_hosts"
    assert (trip.hosts, trip.next_host) == (("host-1", "host-2"), "host-3")
    assert trip.reason == (
        "acting on host-3 would make 3 hosts acted on in the last 10m, more than max_hosts 2: "
        "run 1 restart on host-1 failed, run 2 restart on host-2 acting"
    )
    # This machine (a run with no fleet host) is a host like any other.
    assert tripped(two, acted, None, clock.now).next_host == "this machine"  # type: ignore[union-attr]


def test_only_the_window_counts(clock: FakeClock) -> None:
    old = failures(4, clock.now - 700)  # 10 min 40 s ago: out of a 10 min window
    assert tripped(limits(max_failed=3), old, None, clock.now) is None
    recent = failures(4, clock.now - 500)
    assert tripped(limits(max_failed=3), recent, None, clock.now) is not None
    clock.advance(99)
    assert tripped(limits(max_failed=3), recent, None, clock.now) is not None
    clock.advance(1)  # the first failure leaves the window, 3 remain
    assert tripped(limits(max_failed=3), recent, None, clock.now) is None


def pause(at: float, **kw: Any) -> Pause:
    return Pause(7, at, "max_failed", "4 runs failed", {}, 12, **kw)


def test_a_pause_holds_until_an_operator_resumes_it(clock: FakeClock) -> None:
    held = pause(clock.now - 3600)
    assert in_force(limits(), held, clock.now) is held
    assert in_force(limits(enabled=False), held, clock.now) is None
    resumed = pause(clock.now - 3600, resumed_at=clock.now - 10, resumed_by="alice")
    assert in_force(limits(), resumed, clock.now) is None
    assert held.blocking(None).endswith("4 runs failed; until an operator resumes it")


def test_resume_after_lifts_a_pause_by_itself(clock: FakeClock) -> None:
    held = pause(clock.now)
    auto = limits(resume_after=900)
    clock.advance(899)
    assert in_force(auto, held, clock.now) is held
    clock.advance(1)
    assert in_force(auto, held, clock.now) is None
    assert held.lifted_at(900) == clock.now


def test_runs_before_a_resume_do_not_trip_it_again(clock: FakeClock) -> None:
    at = clock.now - 100
    four = failures(4, at)
    resumed = pause(at - 10, resumed_at=at + 50, resumed_by="alice")
    assert tripped(limits(max_failed=3), four, None, clock.now, resumed) is None
    # the same from resume_after: the window starts where the pause was lifted
    lifted = pause(at - 10)
    assert tripped(limits(max_failed=3, resume_after=60), four, None, clock.now, lifted) is None
    later = [*four, *(run(20 + i, at + 60 + i, "failed") for i in range(4))]
    trip = tripped(limits(max_failed=3), later, None, clock.now, resumed)
    assert trip is not None and [a.run_id for a in trip.runs] == [20, 21, 22, 23]


def test_a_disabled_breaker_never_trips(clock: FakeClock) -> None:
    off = limits(enabled=False, max_failed=1, max_hosts=1)
    assert tripped(off, failures(5, clock.now - 10), "host-9", clock.now) is None


def test_the_page_says_the_limit_the_evidence_and_how_to_resume(clock: FakeClock) -> None:
    trip = tripped(limits(max_failed=1), failures(2, clock.now - 10), None, clock.now)
    assert trip is not None
    assert page_text(trip, 31) == (
        "CRITICAL: fleet automation paused (max_failed): 2 runs failed or were ineffective in "
        "the last 10m, more than max_failed 1: run 1 restart on this machine ineffective, "
        "run 2 restart on this machine failed. Run 31 was not acted on. No remediation runs "
        "on any host until an operator resumes it (console, or POST /api/fleet/resume)."
    )
    assert page_text(trip, None, 1_800_000_900.0).endswith(
        "(console, or POST /api/fleet/resume), or by itself at 2027-01-15 08:15:00 UTC."
    )
    assert trip.evidence()["runs"][1] == {
        "id": 2, "playbook": "restart", "host": "this machine", "outcome": "failed",
        "started_at": clock.now - 9,
    }  # fmt: skip
