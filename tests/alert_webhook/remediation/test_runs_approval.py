"""The run store (remediation/runs.py) on both stores: a run released to await
approval holds no lease and is due again at its deadline; an answer is taken
once, before the deadline only; the silence recorded on a run comes back with
its claim."""

from __future__ import annotations

import pytest
from test_runs import record
from webhook_support import concurrently, make_alert

from alert_webhook.remediation.states import Approval

DEADLINE = 1000.0


@pytest.fixture
def store(any_store):
    return any_store


def awaiting(store) -> int:
    """Plan one run, claim it and release it to await approval until DEADLINE."""
    record(store, make_alert("a", service="demo"))
    [job] = store.runs.claim(100.0, "w1", 30, 1)
    assert store.runs.await_approval(job, DEADLINE)
    return job.id


def test_an_awaiting_run_is_not_due_before_its_deadline_then_is(store) -> None:
    run_id = awaiting(store)
    runs = store.runs
    assert runs.claim(DEADLINE - 1, "w2", 30, 5) == []
    [job] = runs.claim(DEADLINE, "w2", 30, 5)
    assert (job.id, job.approval, job.approval_deadline) == (run_id, Approval.AWAITING, DEADLINE)
    assert job.attempts == 2


def test_releasing_needs_the_lease(store) -> None:
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [job] = runs.claim(100.0, "w1", 30, 1)
    [taken_over] = runs.claim(131.0, "w2", 30, 1)  # w1's lease ran out
    assert not runs.await_approval(job, DEADLINE)
    assert runs.await_approval(taken_over, DEADLINE)


def test_an_approval_makes_it_due_at_once_and_comes_back_with_the_claim(store) -> None:
    run_id = awaiting(store)
    runs = store.runs
    decided = runs.answer(run_id, Approval.APPROVED, "alice", 200.0)
    assert decided.taken and decided.run is not None
    assert (decided.run["status"], decided.run["approval_at"]) == ("planned", 200.0)
    [job] = runs.claim(200.0, "w2", 30, 1)
    assert (job.approval, job.approval_by) == (Approval.APPROVED, "alice")


def test_a_rejection_keeps_its_reason(store) -> None:
    run_id = awaiting(store)
    runs = store.runs
    assert runs.answer(run_id, Approval.REJECTED, "bob", 200.0, "not now").taken
    [job] = runs.claim(200.0, "w2", 30, 1)
    assert (job.approval, job.approval_by, job.approval_reason) == (
        Approval.REJECTED, "bob", "not now",
    )  # fmt: skip


def test_an_answer_is_taken_once_and_only_before_the_deadline(store) -> None:
    run_id = awaiting(store)
    runs = store.runs
    assert not runs.answer(run_id, Approval.APPROVED, "late", DEADLINE).taken
    answers = concurrently(
        *(lambda who=who: runs.answer(run_id, Approval.APPROVED, who, 200.0).taken
          for who in ("alice", "bob", "carol"))
    )  # fmt: skip
    assert sorted(answers) == [False, False, True]
    assert not runs.answer(run_id, Approval.REJECTED, "dave", 201.0).taken


def test_an_unknown_run_or_one_that_does_not_wait_is_not_taken(store) -> None:
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [plain] = runs.list()
    nothing = runs.answer(plain["id"] + 1, Approval.APPROVED, "alice", 200.0)
    assert (nothing.run, nothing.taken) == (None, False)
    planned = runs.answer(plain["id"], Approval.APPROVED, "alice", 200.0)
    assert planned.run is not None and not planned.taken
    assert planned.run["approval"] is None


def test_an_answer_approves_or_rejects(store) -> None:
    run_id = awaiting(store)
    with pytest.raises(ValueError, match="approves or rejects, not timed_out"):
        store.runs.answer(run_id, Approval.TIMED_OUT, "x", 200.0)


def test_a_timed_out_approval_is_recorded_under_the_lease(store) -> None:
    awaiting(store)
    runs = store.runs
    [job] = runs.claim(DEADLINE, "w2", 30, 1)
    assert runs.approval_timed_out(job)
    [row] = runs.list()
    assert row["approval"] == "timed_out"


def test_the_silence_recorded_on_a_run_comes_back_with_a_later_claim(store) -> None:
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [job] = runs.claim(100.0, "w1", 30, 1)
    assert runs.record_silence(job, "6d2c…", "silenced until …")
    [again] = runs.claim(131.0, "w2", 30, 1)  # w1 died: its lease ran out
    assert again.silence_id == "6d2c…"
    runs.note_silence(job.id, "expired")
    [row] = runs.list()
    assert (row["silence_id"], row["silence_note"]) == ("6d2c…", "expired")
