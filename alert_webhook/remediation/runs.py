"""Remediation runs: planned with the firing state change, worked under a lease.

A run is planned in the transaction that records its state change (the
`RemediationPlanner`), once per (state change × playbook) thanks to the unique
key. A runner claims due runs under the lease (`db/lease.py`), so replicas
never both work one; every later write is guarded by the claim token.

What survives a crash: a run is *started* (its `started_at` written) before any
action runs, and each step is written before its action runs. A runner that
claims a run after its lease ran out and finds it started does not run it again
— the dead runner's step may have half-happened — but records it failed,
interrupted (`interrupt`). A run claimed but never started is simply worked.

A run that needs an operator's approval is released by its runner as
`awaiting_approval`, due again at its deadline (`next_attempt_at`), so whichever
replica looks first after the deadline claims it and ends it; an approval or a
rejection makes it due at once. Both are one guarded UPDATE, so an approval and
the deadline's claim, or two approvals, never both win.

Verification does not hold a runner: a step that worked leaves the run
`verifying` with what is to be checked until when (`await_verification`), due
again when its stabilisation window has passed, and lets go of the lease.
Whichever runner claims it then checks; a condition not yet cleared before its
deadline leaves it `verifying`, due again a little later (`check_again`); a
runner that dies while checking leaves the run to be checked again, since a
query is safe to repeat.

Which state may follow which is written down once, in `states.py`
(`RUN_TRANSITIONS`, `STEP_TRANSITIONS`): every UPDATE of a status here names the
states the table lets into the new one in its WHERE clause, so a move the table
does not hold matches no row. The claim takes due runs from each state the table
lets into `in_flight`.

**Every ending tells people in its own transaction** (`run_notices.py`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from alert_webhook.db.bulk import Bulk, Statement, insert_for
from alert_webhook.db.lease import Lease
from alert_webhook.db.schema import alerts, remediation_runs, remediation_steps
from alert_webhook.db.transactions import Transactions
from alert_webhook.delivery.outbox import delivery_insert
from alert_webhook.ingest.planners import PerDialect, StateChange, Tally
from alert_webhook.remediation.flapping import within_budget
from alert_webhook.remediation.guardrails import Attempt
from alert_webhook.remediation.playbooks import Playbooks
from alert_webhook.remediation.run_notices import Tell, Telling, hold, still_held, tell_ending
from alert_webhook.remediation.states import (
    RESOLVED,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    WAITING,
    Approval,
    RunStatus,
    StepRecord,
    StepStatus,
)
from alert_webhook.remediation.verify import Verification

PLANNED, IN_FLIGHT = RunStatus.PLANNED.value, RunStatus.IN_FLIGHT.value
runs, steps = remediation_runs, remediation_steps
# The states a resolution cancels a run from by itself: those the table lets into
# `cancelled` in which no runner holds the run (planned, awaiting approval). A run
# in flight is its runner's to stop (`RunStore.cancel`), and a verifying one is
# left to its check: its step acted, and the resolution may be that step working.
UNCLAIMED_CANCELS = tuple(s for s in RUN_TRANSITIONS.into(RunStatus.CANCELLED) if s != IN_FLIGHT)
NOTHING_DONE = "its alert resolved before the run acted: nothing was done"
# The run's alert has resolved (as recorded: Alertmanager's resolution).
_ALERT_RESOLVED = exists().where(alerts.c.id == runs.c.alert_id, alerts.c.status == "resolved")
# The order in which the claim takes due runs from the states the table lets
# into `in_flight` (and `in_flight` itself, past its lease, from each): due checks
# first — each is one query that ends a run and frees its target, and a backlog
# of planned runs must not hold them back — then planned runs, then approval
# deadlines.
CLAIM_ORDER = (RunStatus.VERIFYING, RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL)


class NewRun(NamedTuple):
    """A run to plan, in the INSERT's bind order."""

    alert_id: int
    event_id: int
    playbook: str
    target: str
    status: str
    attempts: int
    next_attempt_at: float
    planned_at: float

    @classmethod
    def planned(cls, alert_id: int, event_id: int, playbook: str, target: str, at: float) -> NewRun:
        return cls(alert_id, event_id, playbook, target, PLANNED, 0, at, at)


def run_insert(dialect: Dialect) -> Bulk:
    """INSERT of `NewRun` rows; the unique key makes every replica plan each once."""
    return Bulk(insert_for(dialect)(runs).on_conflict_do_nothing(), dialect, NewRun._fields)


class RemediationPlanner:
    """A planned run for each firing state change whose playbook has actions: each
    alert judged on its own, the first matching playbook its playbook. A resolved
    change, or a playbook with no actions (escalate only), plans nothing.

    Runs after the delivery planner, in its transaction: a run whose playbook says
    `notify: after_attempt` (never for a critical alert) holds the notifications
    just planned for its state change, and a resolution of an alert still held is
    held with it — the run's ending decides what people hear. A flapping alert
    plans no more runs than its playbook's budget (`flapping.py`).

    A resolved change cancels its alert's runs that have not begun to act
    (planned, awaiting approval: `cancel_for_resolution`), told through `tell`
    in this same transaction; a run a runner holds stops at its runner's next
    look (`RunStore.cancel`)."""

    def __init__(self, playbooks: Playbooks, tell: Tell) -> None:
        self.playbooks = playbooks
        self.tell = tell
        self._statements = PerDialect()
        self._deliveries = PerDialect()

    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None:
        rows: list[NewRun] = []
        held = []
        for c in changes:
            book = self.playbooks.select(c.alert) if c.status == "firing" else None
            if book is not None and book.actions:
                target = book.target_of(c.alert.labels)
                flapping = c.id in tally.flapping
                if flapping and not within_budget(conn, book, target, c.received_at, rows):
                    continue
                rows.append(NewRun.planned(c.alert_id, c.id, book.name, target, c.received_at))
                tally.planned_runs[c.index] += 1
                if book.notify_for(c.alert.severity) == "after_attempt":
                    held.append(c)
        if rows:
            self._statements.get(conn.dialect, run_insert)(conn, rows)
        held += still_held(conn, [c for c in changes if c.status == "resolved"])
        # A hushed change's messages stay unsent, whatever its run says.
        held = [c for c in held if tally.flapping.get(c.id, "") is not None]
        if held:
            hold(conn, held, tally)
        # Last: a cancelled run settles the notifications just held above.
        resolved = {c.alert_id: c.index for c in changes if c.status == "resolved"}
        if resolved:
            insert = self._deliveries.get(conn.dialect, delivery_insert)
            for alert_id, telling in cancel_for_resolution(conn, insert, resolved, now, self.tell):
                tally.queued[resolved[alert_id]] += sum(
                    d.status == "pending" for d in telling.deliveries
                )


def cancel_for_resolution(
    conn: Connection, insert: Bulk, alert_ids: Collection[int], now: float, tell: Tell
) -> list[tuple[int, Telling]]:
    """End `cancelled (resolved)` the runs of these resolved alerts that no runner
    holds and that have not acted (`UNCLAIMED_CANCELS`), each told as any ending is,
    in the caller's transaction; (alert id, what it told) of each run cancelled.
    Each UPDATE is guarded by those states, so a runner's claim and this never
    both take one run: whichever writes first wins, the other matches no row."""
    found = conn.execute(
        select(runs.c.id, runs.c.alert_id)
        .where(runs.c.alert_id.in_(list(alert_ids)), runs.c.status.in_(UNCLAIMED_CANCELS))
        .order_by(runs.c.id)
    ).all()  # fmt: skip
    told = []
    values = {"status": RunStatus.CANCELLED.value, "finished_at": now, "claimed_by": None,
              "claimed_until": None, "verifying_step": None, "guardrail": RESOLVED,
              "detail": NOTHING_DONE}  # fmt: skip
    for run_id, alert_id in found:
        guarded = runs.c.id == run_id, runs.c.status.in_(UNCLAIMED_CANCELS)
        if conn.execute(update(runs).where(*guarded).values(values)).rowcount == 1:
            told.append((alert_id, tell_ending(conn, insert, run_id, now, tell)))
    return told


@dataclass(frozen=True)
class RunJob:
    """A claimed run with the alert it acts for."""

    id: int
    claim: str  # the lease token: only its holder may write the run
    alert_id: int
    event_id: int
    playbook: str
    target: str
    attempts: int
    planned_at: float
    started_at: float | None  # set: an earlier runner began acting (and may have died)
    alertname: str
    labels: dict[str, str]
    generator_url: str = ""
    # The step whose success is to be checked now; None: nothing awaits a check.
    verifying_step: int | None = None
    approval: Approval | None = None  # None: nobody was asked
    approval_deadline: float | None = None
    approval_by: str | None = None
    approval_reason: str | None = None
    silence_id: str | None = None  # the Alertmanager silence held while it acts
    verification: Verification | None = None  # while verifying_step is checked


@dataclass(frozen=True)
class Decided:
    """An operator's answer to a run: the run as it is now (None: no such run), and
    whether this answer was the one taken (False: it was not awaiting approval)."""

    run: dict[str, Any] | None
    taken: bool


class RunStore:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        # One lease per state a due run is claimed from, as the table says; an
        # order that misses one of them fails here (ValueError), not silently.
        claimed_from = set(RUN_TRANSITIONS.into(RunStatus.IN_FLIGHT)) - {IN_FLIGHT}
        self._due = [
            Lease(
                runs, dialect, pending=pending, in_flight=IN_FLIGHT,
                due_at=runs.c.next_attempt_at, on_claim={"attempts": runs.c.attempts + 1},
            )
            for pending in sorted(claimed_from, key=CLAIM_ORDER.index)
        ]  # fmt: skip
        # The lease a runner holds a run under: any of them, as all own alike.
        self.lease = self._due[0]
        self._insert = delivery_insert(dialect)
        self._claimed = Statement(
            select(runs, alerts.c.alertname, alerts.c.labels, alerts.c.generator_url)
            .join(alerts, alerts.c.id == runs.c.alert_id)
            .where(runs.c.claimed_by == bindparam("c_claim"), runs.c.status == IN_FLIGHT)
            .order_by(runs.c.id),
            dialect,
        )

    def claim(self, now: float, worker: str, lease: float, limit: int) -> list[RunJob]:
        """Take up to `limit` due runs: verifying ones whose check is due, planned
        ones, runs past their approval deadline, or in flight past their lease."""
        claim = Lease.new_claim(worker)
        with self.tx.write() as conn:
            won = 0
            for due in self._due:  # in CLAIM_ORDER
                if won < limit:
                    won += due.claim(conn, now, claim, lease, limit - won)
            if not won:
                return []
            rows = self._claimed.mappings(conn, {"c_claim": claim})
        return [
            RunJob(
                id=r["id"],
                claim=claim,
                alert_id=r["alert_id"],
                event_id=r["event_id"],
                playbook=r["playbook"],
                target=r["target"],
                attempts=r["attempts"],
                planned_at=r["planned_at"],
                started_at=r["started_at"],
                alertname=r["alertname"],
                labels=json.loads(r["labels"]),
                generator_url=r["generator_url"],
                verifying_step=r["verifying_step"],
                approval=Approval(r["approval"]) if r["approval"] else None,
                approval_deadline=r["approval_deadline"],
                approval_by=r["approval_by"],
                approval_reason=r["approval_reason"],
                silence_id=r["silence_id"],
                verification=_verification(r),
            )  # fmt: skip
            for r in rows
        ]

    def attempts(self, since: float, excluding: int | None = None) -> list[Attempt]:
        """What the guardrails judge from: runs started after `since`, and every run
        still acting whenever it started; `outcome` None while it acts."""
        query = select(runs.c.id, runs.c.playbook, runs.c.target, runs.c.started_at,
                       runs.c.finished_at, runs.c.status, runs.c.host).where(
            runs.c.started_at.is_not(None),
            or_(runs.c.started_at > since, runs.c.finished_at.is_(None)),
        )  # fmt: skip
        if excluding is not None:
            query = query.where(runs.c.id != excluding)
        with self.tx.read() as conn:
            rows = conn.execute(query).all()
        return [
            Attempt(r.playbook, r.target, r.started_at,
                    None if r.finished_at is None else r.status, r.host, r.id)
            for r in rows
        ]  # fmt: skip

    def start(self, job: RunJob, now: float, lease_until: float, host: str | None = None) -> bool:
        """Commit to acting (on fleet `host`, when given). False when the lease was
        lost, or when another run is already acting on the target or the host (the
        store's own one-at-a-time checks)."""
        values = {
            "started_at": now,
            "claimed_until": lease_until,
            "host": host,
            "guardrail": None,
            "detail": None,
        }  # no longer waiting, if it waited
        try:
            with self.tx.write() as conn:
                return self.lease.update_owned(conn, job.id, job.claim, values)
        except IntegrityError:
            return False

    def start_step(self, job: RunJob, step: StepRecord, now: float, lease_until: float) -> bool:
        """Write the step as started, and hold the lease until its timeout has passed,
        before its action runs; False (and nothing written) when the lease was lost."""
        values = {"claimed_until": lease_until, "verifying_step": None}
        with self.tx.write() as conn:
            if not self.lease.update_owned(conn, job.id, job.claim, values):
                return False
            conn.execute(insert(steps).values(_step_row(job.id, step, now)))
            return True

    def finish_step(self, job: RunJob, step: StepRecord, now: float) -> None:
        """Complete a started step; one another runner already marked interrupted
        stays so, in keeping with its run's record."""
        with self.tx.write() as conn:
            _complete_step(conn, job.id, step, now)

    def await_verification(
        self, job: RunJob, step: StepRecord, now: float, due: float, check: Verification
    ) -> bool:
        """Complete a step that worked and leave the run `verifying` with its `check`,
        due at `due`, the lease let go: no runner waits out the stabilisation.
        False (and nothing written) when the lease was lost."""
        values = {"verifying_step": step.step, "next_attempt_at": due,
                  "claimed_until": None, "claimed_by": None,
                  "verify_query": check.query, "verify_subject": check.subject,
                  "verify_window": check.window, "verify_since": check.since,
                  "verify_until": check.until, "verify_why": check.why}  # fmt: skip
        with self.tx.write() as conn:
            if not self._move(conn, job, RunStatus.VERIFYING, values):
                return False
            _complete_step(conn, job.id, step, now)
            return True

    def check_again(self, job: RunJob, due: float) -> bool:
        """A condition not cleared yet, before its deadline: `verifying` again, due
        at `due`, the lease let go. False when the lease was lost."""
        values = {"next_attempt_at": due, "claimed_until": None, "claimed_by": None}
        with self.tx.write() as conn:
            return self._move(conn, job, RunStatus.VERIFYING, values)

    def record_verdict(self, job: RunJob, step: int, verdict: str) -> bool:
        """What the check of a step found, beside what its action returned."""
        with self.tx.write() as conn:
            # Still ours, and still to be checked should we die now.
            if not self.lease.update_owned(conn, job.id, job.claim, {"verifying_step": step}):
                return False
            row = steps.c.run_id == job.id, steps.c.step == step
            detail = conn.execute(select(steps.c.detail).where(*row)).scalar()
            noted = f"{detail}; {verdict}" if detail else verdict
            conn.execute(update(steps).where(*row).values(detail=noted))
            return True

    def finish(
        self,
        job: RunJob,
        status: RunStatus,
        now: float,
        tell: Tell,
        detail: str | None = None,
        guardrail: str | None = None,
        skipped: Sequence[StepRecord] = (),
    ) -> bool:
        """Record the run's final state (with a dry run's steps, if any) and what
        `tell` sends about it, in one transaction; False when the lease was lost,
        and then nothing was written."""
        if not status.final:
            raise ValueError(f"a run ends in a final state, not {status}")
        if status is RunStatus.CANCELLED:
            raise ValueError("a run is cancelled by `cancel`, once its alert has resolved")
        values: dict[str, Any] = {"detail": detail, "guardrail": guardrail}
        if status is RunStatus.SKIPPED:
            values["started_at"] = now  # a dry run counts as an attempt
        with self.tx.write() as conn:
            if not self._end(conn, job, status, now, values):
                return False
            if skipped:
                conn.execute(insert(steps), [_step_row(job.id, s, now, now) for s in skipped])
            tell_ending(conn, self._insert, job.id, now, tell)
            return True

    def interrupt(self, job: RunJob, now: float, tell: Tell) -> bool:
        """A run its runner died in: its unfinished steps interrupted, the run failed,
        and people told, as any failed run."""
        detail = "interrupted: its runner stopped mid-run; not run again, as a step may have acted"
        with self.tx.write() as conn:
            if not self._end(conn, job, RunStatus.FAILED, now, {"detail": detail}):
                return False
            interrupted = StepStatus.INTERRUPTED
            conn.execute(
                update(steps)
                .where(steps.c.run_id == job.id,
                       steps.c.status.in_(STEP_TRANSITIONS.into(interrupted)))
                .values(status=interrupted.value, finished_at=now,
                        detail="its runner stopped while it ran")
            )  # fmt: skip
            tell_ending(conn, self._insert, job.id, now, tell)
            return True

    def resolved(self, alert_id: int) -> bool:
        """Whether the alert has resolved, as recorded (a read: the runner asks
        before each step, and `cancel` then writes only if it still holds)."""
        with self.tx.read() as conn:
            query = select(alerts.c.status).where(alerts.c.id == alert_id)
            return conn.execute(query).scalar() == "resolved"

    def cancel(self, job: RunJob, now: float, tell: Tell, detail: str) -> bool:
        """End a run we hold `cancelled (resolved)`, and tell people, in one
        transaction — only if its alert has resolved (the UPDATE says so itself);
        False when it had not, or the lease was lost, and then nothing was written."""
        values = {"guardrail": RESOLVED, "detail": detail}
        with self.tx.write() as conn:
            if not self._end(conn, job, RunStatus.CANCELLED, now, values, _ALERT_RESOLVED):
                return False
            tell_ending(conn, self._insert, job.id, now, tell)
            return True

    def wait(self, job: RunJob, due: float, detail: str) -> bool:
        """Another run is acting on the target: put this one back, planned, due at
        `due` at the latest (that run's ending makes it due at once, `_end`), the
        lease let go; `guardrail` and `detail` say what it waits for. False when
        the lease was lost."""
        values = {"next_attempt_at": due, "claimed_by": None, "claimed_until": None,
                  "guardrail": WAITING, "detail": detail}  # fmt: skip
        with self.tx.write() as conn:
            return self._move(conn, job, RunStatus.PLANNED, values)

    def await_approval(self, job: RunJob, deadline: float) -> bool:
        """Release the run to wait for an operator until `deadline`, when it is due
        again; False when the lease was lost."""
        values = {
            "approval": Approval.AWAITING.value, "guardrail": None, "detail": None,
            "approval_deadline": deadline, "next_attempt_at": deadline,
            "claimed_by": None, "claimed_until": None,
        }  # fmt: skip
        with self.tx.write() as conn:
            return self._move(conn, job, RunStatus.AWAITING_APPROVAL, values)

    def answer(
        self, run_id: int, verdict: Approval, by: str, now: float, reason: str | None = None
    ) -> Decided:
        """Approve or reject a run awaiting approval before its deadline: it is due
        at once, for a runner to act or to end it. Taken once: a second answer, a
        late one, or one for a run that does not wait changes nothing."""
        if verdict not in (Approval.APPROVED, Approval.REJECTED):
            raise ValueError(f"an operator approves or rejects, not {verdict}")
        planned, awaiting = RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL
        values = {
            "status": planned.value, "next_attempt_at": now, "approval": verdict.value,
            "approval_by": by, "approval_at": now, "approval_reason": reason,
        }  # fmt: skip
        with self.tx.write() as conn:
            taken = conn.execute(
                update(runs)
                # Only from awaiting approval, of the states the table lets into
                # planned: a run in flight is its runner's.
                .where(runs.c.id == run_id, runs.c.status == awaiting.value,
                       runs.c.approval_deadline > now)
                .values(**values)
            ).rowcount == 1  # fmt: skip
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        return Decided(None if row is None else dict(row), taken)

    def approval_timed_out(self, job: RunJob) -> bool:
        """Record that nobody answered before the deadline (the runner then ends it)."""
        with self.tx.write() as conn:
            values = {"approval": Approval.TIMED_OUT.value}
            return self.lease.update_owned(conn, job.id, job.claim, values)

    def record_silence(self, job: RunJob, silence_id: str | None, note: str) -> bool:
        """The silence created for the run (None: it could not be), and what happened."""
        with self.tx.write() as conn:
            values = {"silence_id": silence_id, "silence_note": note}
            return self.lease.update_owned(conn, job.id, job.claim, values)

    def note_silence(self, run_id: int, note: str) -> None:
        """What became of the run's silence once the run ended (no lease by then)."""
        with self.tx.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(silence_note=note))

    def _end(
        self, conn: Connection, job: RunJob, status: RunStatus, now: float,
        values: dict[str, Any], *also: Any,
    ) -> bool:  # fmt: skip
        """End a run we hold; the runs waiting for it (`wait`: planned on its
        target) are due at once, in the same transaction."""
        final = {"finished_at": now, "claimed_until": None, "verifying_step": None}
        if not self._move(conn, job, status, final | values, *also):
            return False
        conn.execute(
            update(runs)
            .where(runs.c.target == job.target, runs.c.status == PLANNED,
                   runs.c.guardrail == WAITING, runs.c.next_attempt_at > now)
            .values(next_attempt_at=now)
        )  # fmt: skip
        return True

    def _move(
        self, conn: Connection, job: RunJob, to: RunStatus, values: dict[str, Any], *also: Any
    ) -> bool:
        """Move a run we hold to `to`: one UPDATE guarded by our claim and by the
        states the table lets into `to` (and `also`), so a move it does not hold
        changes nothing. False when nothing was written."""
        moved = runs.c.status.in_(RUN_TRANSITIONS.into(to))
        stmt = update(runs).where(self.lease.owned(job.id, job.claim), moved, *also)
        return conn.execute(stmt.values(values | {"status": to.value})).rowcount == 1

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest runs first, each with its steps in order."""
        with self.tx.read() as conn:
            found = [dict(r) for r in conn.execute(
                select(runs).order_by(runs.c.id.desc()).limit(limit)
            ).mappings()]  # fmt: skip
            ids = [r["id"] for r in found]
            by_run: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                query = select(steps).where(steps.c.run_id.in_(ids)).order_by(steps.c.step)
                for s in conn.execute(query).mappings():
                    row = dict(s)
                    row["params"] = json.loads(row["params"])
                    by_run[row.pop("run_id")].append(row)
        for run in found:
            run["steps"] = by_run[run["id"]]
        return found


def _verification(row: Any) -> Verification | None:
    if row["verify_since"] is None:
        return None
    return Verification(
        row["verify_query"], row["verify_subject"] or "the condition", row["verify_window"] or 0.0,
        row["verify_since"], row["verify_until"] or row["verify_since"], row["verify_why"] or "",
    )  # fmt: skip


def _complete_step(conn: Connection, run_id: int, step: StepRecord, now: float) -> None:
    conn.execute(
        update(steps)
        .where(
            steps.c.run_id == run_id,
            steps.c.step == step.step,
            steps.c.status.in_(STEP_TRANSITIONS.into(step.status)),
        )
        .values(
            status=step.status.value,
            exit_status=step.exit_status,
            output=step.output,
            detail=step.detail,
            duration=step.duration,
            finished_at=now,
        )  # fmt: skip
    )


def _step_row(
    run_id: int, step: StepRecord, started_at: float, finished_at: float | None = None
) -> dict[str, Any]:
    return {
        "run_id": run_id, "step": step.step, "action": step.action,
        "params": json.dumps(step.params, sort_keys=True), "status": step.status.value,
        "exit_status": step.exit_status, "output": step.output, "detail": step.detail,
        "duration": step.duration, "started_at": started_at, "finished_at": finished_at,
    }  # fmt: skip
