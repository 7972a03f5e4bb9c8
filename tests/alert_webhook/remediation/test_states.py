"""remediation/states.py: the one table of run and step transitions, walked.

First the table itself: every state is reachable from where rows begin, the final
states have no way out, and every other state can still end. Then the run store
against it, on SQLite through its public methods: a run is brought to each state
the way the runner brings it there, and every write that sets a status is tried
from it. A write the table allows moves the run (or step) to its state; any other
changes nothing. So the moves the store can make are exactly the table's edges.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import update
from test_runs import record, silent
from webhook_support import make_alert

from alert_webhook.db.schema import alerts
from alert_webhook.delivery.outbox import delivery_insert
from alert_webhook.remediation.runs import RunJob, cancel_for_resolution
from alert_webhook.remediation.states import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    Approval,
    RunStatus,
    StepRecord,
    StepStatus,
    Transitions,
)
from alert_webhook.remediation.verify import Verification
from alert_webhook.store import SqlStore, open_store

S = TypeVar("S", RunStatus, StepStatus)
R = RunStatus
ENDINGS = {R.VERIFIED, R.INEFFECTIVE, R.FAILED, R.BLOCKED, R.SKIPPED, R.CANCELLED}
LATER = 10_000.0  # past every lease, deadline and check in these walks
CHECK = Verification("up == 0", "the condition", 10.0, 102.0, 400.0, "10s clear")


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with its schema, made once: the walks below need one per case."""
    path = tmp_path_factory.mktemp("states") / "empty.sqlite3"
    made = open_store(f"sqlite:///{path}")
    made.create_schema()
    made.dispose()
    return path


@pytest.fixture
def store(empty_store: Path, tmp_path: Path) -> Iterator[SqlStore]:
    shutil.copy(empty_store, tmp_path / "webhook.sqlite3")
    store = open_store(f"sqlite:///{tmp_path}/webhook.sqlite3")
    yield store
    store.dispose()


def reachable(table: Transitions[S], start: frozenset[S]) -> set[S]:
    seen, todo = set(start), list(start)
    while todo:
        for after in table.moves[todo.pop()] - seen:
            seen.add(after)
            todo.append(after)
    return seen


@pytest.mark.parametrize("table", [RUN_TRANSITIONS, STEP_TRANSITIONS], ids=["runs", "steps"])
def test_every_state_is_in_the_table_reachable_and_can_end(table: Transitions[Any]) -> None:
    states = set(type(next(iter(table.begins))))
    assert set(table.moves) == states
    assert all(to in states for targets in table.moves.values() for to in targets)
    assert reachable(table, table.begins) == states
    for state in states:
        assert any(table.final(s) for s in reachable(table, frozenset({state}))), state


def test_the_final_run_states_are_its_endings_and_have_no_way_out() -> None:
    assert {s for s in RunStatus if s.final} == ENDINGS
    assert {s for s in RunStatus if RUN_TRANSITIONS.final(s)} == ENDINGS
    assert not any(source in ENDINGS for source, _ in RUN_TRANSITIONS.edges())
    finished = {s for s in StepStatus if STEP_TRANSITIONS.final(s)}
    assert finished == set(StepStatus) - {StepStatus.STARTED}


def test_into_names_what_a_guarded_update_accepts() -> None:
    assert RUN_TRANSITIONS.into(R.IN_FLIGHT) == (
        "awaiting_approval", "in_flight", "planned", "verifying",
    )  # fmt: skip
    assert RUN_TRANSITIONS.into(R.PLANNED) == ("awaiting_approval", "in_flight")
    assert all(RUN_TRANSITIONS.into(s) == ("in_flight",) for s in ENDINGS - {R.CANCELLED})
    # A resolution cancels what no runner holds; the runner, what it holds.
    assert RUN_TRANSITIONS.into(R.CANCELLED) == ("awaiting_approval", "in_flight", "planned")
    assert STEP_TRANSITIONS.into(StepStatus.INTERRUPTED) == ("started",)
    assert STEP_TRANSITIONS.into(StepStatus.SKIPPED) == ()  # written so, never moved there


# --- runs -------------------------------------------------------------------


def reach(store, state: RunStatus) -> RunJob:
    """One run brought to `state` as the runner brings it there; the job that
    held it last (holding it still when `in_flight`)."""
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [job] = runs.claim(101.0, "w1", 30, 1)
    if state in (R.AWAITING_APPROVAL, R.PLANNED):
        assert runs.await_approval(job, 500.0)
        if state is R.PLANNED:
            assert runs.answer(job.id, Approval.APPROVED, "alice", 200.0).taken
    elif state is R.VERIFYING:
        assert runs.start(job, 101.0, 131.0)
        assert runs.start_step(job, StepRecord(0, "run_command", {}, StepStatus.STARTED),
                               101.0, 131.0)  # fmt: skip
        done = StepRecord(0, "run_command", {}, StepStatus.SUCCEEDED)
        assert runs.await_verification(job, done, 102.0, 400.0, CHECK)
    elif state is R.CANCELLED:
        assert _resolved(lambda runs, job: runs.cancel(job, 102.0, silent, "gone"))(runs, job)
    elif state is not R.IN_FLIGHT:
        assert runs.finish(job, state, 102.0, silent)
    [row] = runs.list()
    assert row["status"] == state
    return job


Write = Callable[[Any, RunJob], object]


def _finish(status: RunStatus) -> Write:
    return lambda runs, job: runs.finish(job, status, 300.0, silent)


def _resolved(write: Callable[[Any, RunJob], object]) -> Write:
    """The write, once the run's alert has resolved (as recording it does)."""

    def call(runs: Any, job: RunJob) -> object:
        with runs.tx.write() as conn:
            conn.execute(update(alerts).values(status="resolved"))
        return write(runs, job)

    return call


def _cancel_unclaimed(runs: Any, job: RunJob) -> bool:
    with runs.tx.write() as conn:
        insert = delivery_insert(conn.dialect)
        return bool(cancel_for_resolution(conn, insert, [job.alert_id], 300.0, silent))


# Every store write that sets a run's status, with the state it sets; a write
# that moves a run from only some of the states the table lets into it names them.
RUN_WRITES: dict[str, tuple[RunStatus, Write]] = {
    "claim": (R.IN_FLIGHT, lambda runs, job: runs.claim(LATER, "w2", 30, 5)),
    "answer": (R.PLANNED, lambda runs, job: runs.answer(job.id, Approval.APPROVED, "bob", 300.0)),
    "wait": (R.PLANNED, lambda runs, job: runs.wait(job, LATER, "waits")),
    "cancel": (R.CANCELLED, _resolved(lambda runs, job: runs.cancel(job, 300.0, silent, "gone"))),
    "cancel_for_resolution": (R.CANCELLED, _resolved(_cancel_unclaimed)),
    "await_approval": (R.AWAITING_APPROVAL, lambda runs, job: runs.await_approval(job, LATER)),
    "await_verification": (R.VERIFYING, lambda runs, job: runs.await_verification(
        job, StepRecord(0, "run_command", {}, StepStatus.SUCCEEDED), 300.0, LATER, CHECK)),
    "check_again": (R.VERIFYING, lambda runs, job: runs.check_again(job, LATER)),
    "interrupt": (R.FAILED, lambda runs, job: runs.interrupt(job, 300.0, silent)),
    **{f"finish_{s}": (s, _finish(s)) for s in RunStatus if s.final and s is not R.CANCELLED},
}  # fmt: skip
# The states each write moves a run from, where it is fewer than the table lets in.
SOURCES: dict[str, set[RunStatus]] = {
    "answer": {R.AWAITING_APPROVAL},  # an operator's answer, never a runner's run
    "wait": {R.IN_FLIGHT},  # the runner's, of the run it holds
    "cancel": {R.IN_FLIGHT},
    "cancel_for_resolution": {R.PLANNED, R.AWAITING_APPROVAL},  # what no runner holds
}


def moves(write: str, state: RunStatus) -> bool:
    target = RUN_WRITES[write][0]
    return RUN_TRANSITIONS.allows(state, target) and state in SOURCES.get(write, {state})


@pytest.mark.parametrize("write", RUN_WRITES)
@pytest.mark.parametrize("state", RunStatus)
def test_a_run_write_moves_only_as_the_table_allows(store, state: RunStatus, write: str) -> None:
    job = reach(store, state)
    target, call = RUN_WRITES[write]
    runs = store.runs
    [before] = runs.list()
    said = call(runs, job)
    done = bool(getattr(said, "taken", said))  # an answer says whether it was taken
    [after] = runs.list()
    if moves(write, state):
        assert done and after["status"] == target
        assert after != before  # a reclaim changes its claim and attempts
    else:
        assert not done and after == before


def test_the_run_writes_together_make_every_move_in_the_table() -> None:
    made = {(s, RUN_WRITES[w][0]) for s in RunStatus for w in RUN_WRITES if moves(w, s)}
    assert made == RUN_TRANSITIONS.edges()


def test_finish_is_not_how_a_run_is_cancelled(store) -> None:
    job = reach(store, R.IN_FLIGHT)
    with pytest.raises(ValueError, match="cancel"):
        store.runs.finish(job, R.CANCELLED, 300.0, silent)


# --- steps ------------------------------------------------------------------


def reach_step(store, state: StepStatus) -> RunJob:
    """A run whose step 0 is in `state`, reached as the runner reaches it; the job
    that held the run last (holding it still unless the run has ended)."""
    record(store, make_alert("a", service="demo"))
    runs = store.runs
    [job] = runs.claim(101.0, "w1", 30, 1)
    first = StepRecord(0, "run_command", {}, state)
    if state is StepStatus.SKIPPED:
        assert runs.finish(job, R.SKIPPED, 102.0, silent, skipped=[first])
        return job
    assert runs.start(job, 101.0, 131.0)
    assert runs.start_step(job, StepRecord(0, "run_command", {}, StepStatus.STARTED), 101.0, 131.0)
    if state is StepStatus.INTERRUPTED:
        [job] = runs.claim(140.0, "w2", 30, 1)  # the first runner died
        assert runs.interrupt(job, 141.0, silent)
    elif state is not StepStatus.STARTED:
        runs.finish_step(job, first, 102.0)
    [row] = runs.list()
    assert [s["status"] for s in row["steps"]] == [state]
    return job


def _finish_step(status: StepStatus) -> Write:
    return lambda runs, job: runs.finish_step(
        job, StepRecord(0, "run_command", {}, status, 0, "late", None, 1.0), 300.0
    )


# Every store write that sets a step's status, with the state it sets; a step is
# finished with whatever its action returned, so each status is tried.
STEP_WRITES: dict[str, tuple[StepStatus, Write]] = {
    "interrupt": (StepStatus.INTERRUPTED, lambda runs, job: runs.interrupt(job, 300.0, silent)),
    "await_verification": (StepStatus.SUCCEEDED, RUN_WRITES["await_verification"][1]),
    **{f"finish_step_{s}": (s, _finish_step(s)) for s in StepStatus},
}


@pytest.mark.parametrize("write", STEP_WRITES)
@pytest.mark.parametrize("state", StepStatus)
def test_a_step_write_moves_only_as_the_table_allows(store, state: StepStatus, write: str) -> None:
    job = reach_step(store, state)
    target, call = STEP_WRITES[write]
    runs = store.runs
    [before] = runs.list()[0]["steps"]
    call(runs, job)
    [after] = runs.list()[0]["steps"]
    if STEP_TRANSITIONS.allows(state, target):
        assert after["status"] == target and after["finished_at"] == 300.0
    else:
        assert after == before


def test_the_step_writes_together_make_every_move_in_the_table() -> None:
    made = {(s, target) for s in StepStatus for target, _ in STEP_WRITES.values()
            if STEP_TRANSITIONS.allows(s, target)}  # fmt: skip
    assert made == STEP_TRANSITIONS.edges()
