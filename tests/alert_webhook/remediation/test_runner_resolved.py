"""Runs stop when their alert resolves, on a fake clock: a planned run, one
awaiting approval, and one a runner claimed but had not started end `cancelled
(resolved)` and never act; a run whose alert resolves mid-action finishes that
step and starts no other; a verifying run goes on being checked — verified when
its condition clears, cancelled (not its next step) when it does not. People
hear of a cancellation once, on the dashboard and the log. A second firing
copy on a target whose fix is running waits for that fix."""

from __future__ import annotations

from resolved_support import Notes, demo_alert, noting
from runs_support import Harness

from alert_webhook.remediation.runs import NOTHING_DONE
from alert_webhook.remediation.states import Approval

STILL_DOWN = [{"instance": "db1:9100"}]


def harness(store, *books, notes: Notes | None = None) -> tuple[Harness, Notes]:
    notes = notes or Notes()
    return Harness(store, list(books), actions=notes.actions), notes


def told(h: Harness, run_id: int) -> list[tuple[str, str]]:
    return [(d["channel"], d["status"]) for d in h.deliveries(f"remediation-{run_id}")]


def test_a_planned_run_is_cancelled_by_the_resolution_and_never_acts(store) -> None:
    h, notes = harness(store, noting("restart"))
    h.record(demo_alert())
    h.clock.advance(1)
    h.record(demo_alert("resolved"))
    [run] = h.runs()
    assert (run["status"], run["guardrail"], run["detail"]) == ("cancelled", "resolved",
                                                               NOTHING_DONE)  # fmt: skip
    assert run["started_at"] is None and run["finished_at"] == h.clock()
    assert h.runner.run_once() == 0 and notes.ran == []
    # Told once, briefly, where people look; nobody paged.
    assert told(h, run["id"]) == [("dashboard", "delivered"), ("log", "pending")]
    note = h.deliveries(f"remediation-{run['id']}")[0]["note"]
    assert note.startswith("remediation DemoDown on service=demo cancelled (resolved): its alert")


def test_a_run_awaiting_approval_is_cancelled_and_a_late_approval_is_refused(store) -> None:
    h, notes = harness(store, noting("restart", require_approval=True))
    h.record(demo_alert())
    assert h.runner.run_once() == 1
    assert h.runs()[0]["status"] == "awaiting_approval"
    h.record(demo_alert("resolved"))
    [run] = h.runs()
    assert (run["status"], run["guardrail"]) == ("cancelled", "resolved")
    assert not h.store.runs.answer(run["id"], Approval.APPROVED, "alice", h.clock()).taken
    h.clock.advance(3600)
    assert h.runner.run_once() == 0 and notes.ran == []


def test_a_run_claimed_before_the_resolution_is_stopped_by_its_runner(store) -> None:
    """The claim won the race: the resolution's planner leaves a run a runner
    holds; the runner looks before it starts."""
    h, notes = harness(store, noting("restart"))
    h.record(demo_alert())
    [job] = h.store.runs.claim(h.clock(), "w1", 30, 1)
    h.record(demo_alert("resolved"))
    assert h.runs()[0]["status"] == "in_flight"
    h.runner.work(job)
    [run] = h.runs()
    assert (run["status"], run["detail"]) == ("cancelled", NOTHING_DONE)
    assert notes.ran == [] and h.count("DemoDown", "cancelled") == 1
    assert told(h, run["id"]) == [("dashboard", "delivered"), ("log", "pending")]


def test_mid_action_the_step_finishes_and_the_next_never_starts(store) -> None:
    h, notes = harness(store, noting("first", "second"))
    notes.failing.add("first")
    h.record(demo_alert())
    notes.during = lambda: h.record(demo_alert("resolved"))
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert notes.ran == ["first"]
    assert [(s["step"], s["status"]) for s in run["steps"]] == [(0, "failed")]
    assert run["status"] == "cancelled" and run["started_at"] is not None
    assert run["detail"] == (
        "step 0 (note): first failed; its alert resolved: step 1 and after were not started"
    )
    h.clock.advance(3600)
    assert h.runner.run_once() == 0 and notes.ran == ["first"]


def test_a_verifying_run_whose_alert_resolved_is_verified_when_its_check_clears(store) -> None:
    """The resolution may be the fix working: the check decides, as always."""
    h, notes = harness(store, noting("first", "second"))
    h.record(demo_alert())
    h.runner.run_once()
    h.record(demo_alert("resolved"))
    assert h.runs()[0]["status"] == "verifying"  # left to its check
    h.settle()
    [run] = h.runs()
    assert run["status"] == "verified" and notes.ran == ["first"]
    assert h.prometheus.checks()  # checked against Prometheus, not taken on trust


def test_a_verifying_run_not_cleared_ends_cancelled_instead_of_its_next_step(store) -> None:
    h, notes = harness(store, noting("first", "second"))
    h.prometheus.answers["up"] = STILL_DOWN
    h.record(demo_alert())
    h.runner.run_once()
    h.record(demo_alert("resolved"))
    for _ in range(20):
        h.settle()
        if h.runs()[0]["finished_at"]:
            break
    [run] = h.runs()
    assert run["status"] == "cancelled" and notes.ran == ["first"]
    assert "not verified" in run["detail"]
    assert run["detail"].endswith("its alert resolved: step 1 and after were not started")
    assert told(h, run["id"]) == [("dashboard", "delivered"), ("log", "pending")]


def test_a_second_copy_waits_for_the_running_fix_then_is_judged(store) -> None:
    h, notes = harness(store, noting("restart", cooldown="1s"))
    h.record(demo_alert())
    h.runner.run_once()  # the first copy's fix acted: verifying
    h.record(demo_alert(fingerprint="b", instance="db2:9100"))
    assert h.runner.run_once() == 1  # the second copy's run, judged now
    first, second = sorted(h.runs(), key=lambda r: r["id"])
    assert first["status"] == "verifying"
    assert (second["status"], second["guardrail"]) == ("planned", "one_at_a_time")
    assert second["detail"].startswith("waits: DemoDown is already acting on service=demo")
    assert told(h, second["id"]) == []  # nobody paged about a fix under way
    assert notes.ran == ["restart"]
    h.settle()  # the first verifies; the second is due at once
    assert {r["id"]: r["status"] for r in h.runs()}[first["id"]] == "verified"
    assert h.runner.run_once() == 1
    [again] = [r for r in h.runs() if r["id"] == second["id"]]
    assert again["status"] == "verifying" and again["guardrail"] is None
    assert notes.ran == ["restart", "restart"]


def test_a_waiting_copy_whose_alert_resolves_is_cancelled(store) -> None:
    h, notes = harness(store, noting("restart"))
    h.record(demo_alert())
    h.runner.run_once()
    h.record(demo_alert(fingerprint="b", instance="db2:9100"))
    h.runner.run_once()  # waits
    h.record(demo_alert("resolved", fingerprint="b", instance="db2:9100"))
    second = max(h.runs(), key=lambda r: r["id"])
    assert (second["status"], second["guardrail"]) == ("cancelled", "resolved")
    h.settle()
    assert notes.ran == ["restart"]
    assert sorted(r["status"] for r in h.runs()) == ["cancelled", "verified"]
