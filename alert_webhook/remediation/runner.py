"""The runner: the `remediation` loop's pass over due runs.

For each run it claims under the lease:

1. a run an earlier runner had started (its lease ran out: that runner died or
   hung) is not run again, since a step may have acted already: it is recorded
   failed, interrupted, and people take over;
2. every step is rendered with the alert's labels; a value that fails its
   parameter's rules means no action at all: the run is blocked with the reason;
   a playbook with a step that acts on a fleet host (`ansible`, restart_service
   `on_host`) resolves that host from the labels through the inventory — one
   plain inventory host, or the run is blocked (`fleet_host`) saying why;
3. the playbook's PromQL precondition, if any, is asked of Prometheus, and the
   answer goes with the run to the guardrails, which judge it from the runs on
   record (every replica's): blocked with the guardrail's reason, or a dry run
   recorded as skipped with the rendered parameters of each step;
4. a playbook that requires approval releases the run to wait for an operator
   until its deadline; approved, the run is due again and judged again from
   step 1; rejected, or unanswered by the deadline, it ends blocked (`approval`);
5. the run is started (the store refuses a second run acting on one target, or
   on one fleet host),
   its alert silenced in Alertmanager if the playbook asks, then the steps are
   tried in order — each written as started before its action runs and
   completed with what it returned. A step that fails gives way to the next;
   one that works leaves the run `verifying` with its verification (what to
   ask, until when, and why that long: `verify.py`), due again once its
   stabilisation delay and window have passed, and the runner moves on;
6. a verifying run claimed when due is checked against Prometheus: cleared
   ends it verified; still there (or Prometheus could not say) before the
   verification's deadline leaves it verifying, due again shortly; still there
   at the deadline counts as a failure, and the next step is tried, then
   checked in turn. With no step left the run is ineffective if a step ran,
   failed if none did. A step whose host was unreachable ends the run failed at
   once: no next step, no retry into a dead host. Whatever the end, the
   silence is expired.

**Its alert resolved.** The resolution's planner cancels the runs no runner
holds (planned, awaiting approval: `runs.cancel_for_resolution`). A run a
runner holds is stopped by the runner: before it starts and before each step it
asks whether the alert resolved, and if so ends it `cancelled (resolved)`
(`_stop_if_resolved`); a step under way finishes first. A verifying run goes on
being checked — its step acted, and the resolution may be that step working:
cleared ends it verified; not cleared by the deadline ends it cancelled
(resolved) rather than trying its next step.

**Another run acting on its target** (`one_at_a_time`, by the guardrail or by
the store's index at the start): the run waits, planned again (`runs.wait`),
due when that run ends (or `WAIT_RECHECK` at the latest), then judged afresh —
rather than ending blocked and paging people about a fix that is under way.

Every ending goes through `_end`, and the store tells people of it in the same
transaction (`escalation.py` decides what they hear).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from alert_webhook.clients.alertmanager import AlertmanagerAPI
from alert_webhook.fleet.executor import Executor
from alert_webhook.fleet.inventory import Host, Inventory, NotInFleet
from alert_webhook.fleet.pausing import FleetBreaker
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.remediation.actions.base import ActionOutcome, ActionResult, Boundaries
from alert_webhook.remediation.guardrails import (
    BLOCKED,
    FLEET_BREAKER,
    Candidate,
    Decision,
    Guardrails,
    History,
)
from alert_webhook.remediation.playbooks import (
    Playbook,
    Playbooks,
    RenderedStep,
    host_bound,
    render_step,
)
from alert_webhook.remediation.run_notices import Tell
from alert_webhook.remediation.runs import NOTHING_DONE, RunJob, RunStore
from alert_webhook.remediation.silencing import Silencing
from alert_webhook.remediation.states import (
    WAITING,
    Approval,
    RunStatus,
    StepRecord,
    StepStatus,
)
from alert_webhook.remediation.templates import Refused
from alert_webhook.remediation.verify import Checks, poll_interval

# The refusal of a label value is reported like a guardrail's, under this name.
LABELS_GUARDRAIL = "labels"
# A run rejected by an operator, or that nobody approved in time, is blocked so.
APPROVAL_GUARDRAIL = "approval"
# A run whose alert names no host of the inventory is blocked so.
FLEET_GUARDRAIL = "fleet_host"
WOULD_WAIT = "a real run would wait for an operator's approval"
# A run waiting for another on its target is due again at the latest after this
# long (the other's ending makes it due at once): a missed wake-up costs this.
WAIT_RECHECK = 60.0
_STEP_STATUS = {
    ActionOutcome.SUCCEEDED: StepStatus.SUCCEEDED,
    ActionOutcome.FAILED: StepStatus.FAILED,
    ActionOutcome.TIMED_OUT: StepStatus.TIMED_OUT,
    ActionOutcome.UNREACHABLE: StepStatus.UNREACHABLE,
}
# The loop that runs remediation, woken when a run is planned or approved.
REMEDIATION_LOOP = "remediation"


def rendered_params(step: RenderedStep) -> dict[str, object]:
    """What is recorded and shown of a step's parameters: the rendered values, which
    hold label values and literal settings, never a secret (parameters only name
    the environment variables that hold those)."""
    return step.params.model_dump(mode="json")


def render_all(book: Playbook, playbooks: Playbooks, labels: dict[str, str]) -> list[RenderedStep]:
    """Every step for these labels, or `Refused` with every reason of every step."""
    rendered, reasons = [], []
    for index, step in enumerate(book.actions):
        try:
            rendered.append(render_step(step, playbooks.actions, labels))
        except Refused as refused:
            reasons += [f"step {index} ({step.action}): {r}" for r in refused.reasons]
    if reasons:
        raise Refused(reasons)
    return rendered


def spoken(seconds: float) -> str:
    """A duration as a playbook would write it: 900 → 15m, 90 → 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def horizon(playbooks: Playbooks) -> float:
    """How far back a guardrail may look: the longest window or cooldown."""
    spans = [max(p.window, p.cooldown) for p in playbooks.playbooks]
    return max(spans, default=0.0)


@dataclass(frozen=True)
class Remediation:
    """What the factory built for remediation: the runner's inputs and the
    preview's (the same playbooks, guardrails and questions for Prometheus)."""

    playbooks: Playbooks
    guardrails: Guardrails
    checks: Checks = Checks(None)
    # The fleet breaker's pauses (its limits are among the guardrails); None: none.
    breaker: FleetBreaker | None = None
    # The fleet (fleet.inventory): the hosts a host-bound step may act on, and
    # what reaches them. None: every step acts on this machine.
    inventory: Inventory | None = None
    executor: Executor | None = None

    def book(self, name: str) -> Playbook | None:
        return next((p for p in self.playbooks.playbooks if p.name == name), None)

    def history(self, runs: RunStore, now: float, excluding: int | None = None) -> History:
        back = horizon(self.playbooks)
        if self.breaker is None:
            return History(runs.attempts(now - back, excluding), now)
        back = max(back, self.breaker.limits.window)
        return History(runs.attempts(now - back, excluding), now, self.breaker.latest(now))

    def trip(self, job: RunJob, candidate: Candidate, history: History) -> Decision | None:
        """When the fleet breaker's limits stopped this run: pause automation and
        page once (`fleet/pausing.py`), and the run's blocked decision, naming
        the pause in force; None when the pause already held (nothing to write)."""
        if self.breaker is None:
            return None
        trip = self.breaker.tripped(history.attempts, candidate.host, history.now, history.pause)
        if trip is None:
            return None
        pause = self.breaker.trip(trip, history.now, job.id, job.alert_id, job.event_id)
        return Decision(BLOCKED, FLEET_BREAKER, pause.blocking(self.breaker.limits.resume_after))

    def blocking(self, candidate: Candidate, history: History) -> list[Decision]:
        """Every guardrail that would stop the run now."""
        return self.guardrails.blocking(candidate, history)

    def host_of(self, book: Playbook, labels: Mapping[str, str]) -> Host | None:
        """The fleet host `book` would act on for these labels; None when it acts
        on this machine. NotInFleet says why there is none."""
        if not host_bound(book, self.playbooks.actions):
            return None
        if self.inventory is None or self.executor is None:
            raise NotInFleet(f"{book.name} acts on a fleet host, but fleet.inventory is not set")
        return self.inventory.resolve(labels)

    def candidate(self, book: Playbook, target: str, host: str | None = None) -> Candidate:
        """The run to judge, with its precondition asked of Prometheus just now."""
        return Candidate(book, target, self.checks.precondition(book), host)

    def decide(self, candidate: Candidate, history: History) -> Decision:
        return self.guardrails.decide(candidate, history)


class Runner:
    def __init__(
        self,
        runs: RunStore,
        remediation: Remediation,
        metrics: WebhookMetrics,
        boundaries: Boundaries,
        clock: Callable[[], float],
        lease_seconds: float = 30.0,
        worker_id: str | None = None,
        silences: AlertmanagerAPI | None = None,
        *,
        tell: Tell,
    ) -> None:
        self.runs, self.remediation, self.metrics = runs, remediation, metrics
        self.boundaries, self.clock, self.lease_seconds = boundaries, clock, lease_seconds
        self.tell = tell
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        self.silencing = Silencing(runs, silences, clock)

    def run_once(self) -> int:
        """Claim one due run and work it; how many were claimed. One at a time: a
        run's steps may take minutes, and the lease is held per run."""
        jobs = self.runs.claim(self.clock(), self.worker_id, self.lease_seconds, 1)
        for job in jobs:
            self.work(job)
        return len(jobs)

    def _count(self, job: RunJob, status: RunStatus) -> None:
        self.metrics.remediation_runs.labels(job.playbook, status.value).inc()

    def _end(
        self, job: RunJob, status: RunStatus, detail: str | None, guardrail: str | None = None,
        skipped: Sequence[StepRecord] = (),
    ) -> None:  # fmt: skip
        """The one way a run ends: its final state and what people are told of it,
        in one transaction. Only the runner that recorded the end expires the
        silence: one that lost its lease leaves it to the runner that holds the run
        now."""
        if self.runs.finish(job, status, self.clock(), self.tell, detail, guardrail, skipped):
            self._count(job, status)
            self.silencing.release(job)

    def work(self, job: RunJob) -> None:
        if job.verifying_step is not None:
            return self._check(job, job.verifying_step)
        if job.started_at is not None:
            if self.runs.interrupt(job, self.clock(), self.tell):
                self._count(job, RunStatus.FAILED)
                self.silencing.release(job)
            return
        if self._stop_if_resolved(job, NOTHING_DONE):
            return None
        book = self.remediation.book(job.playbook)
        if book is None:
            detail = f"playbook {job.playbook} is no longer in the playbook file"
            return self._end(job, RunStatus.FAILED, detail)
        if (refusal := self._approval_refused(job, book)) is not None:
            return self._end(job, RunStatus.BLOCKED, refusal, APPROVAL_GUARDRAIL)
        try:
            steps = render_all(book, self.remediation.playbooks, job.labels)
        except Refused as refused:
            return self._end(job, RunStatus.BLOCKED, str(refused), LABELS_GUARDRAIL)
        try:
            host = self.remediation.host_of(book, job.labels)
        except NotInFleet as nowhere:
            return self._end(job, RunStatus.BLOCKED, str(nowhere), FLEET_GUARDRAIL)
        decision = self._judge(job, book, host)
        if decision.guardrail == WAITING:
            return self._wait(job, decision.reason)
        if decision.verdict == "blocked":
            return self._end(job, RunStatus.BLOCKED, decision.reason, decision.guardrail)
        if decision.verdict == "dry_run":
            if book.require_approval:
                decision = replace(decision, reason=f"{decision.reason}; {WOULD_WAIT}")
            would = [
                StepRecord(i, s.action.name, rendered_params(s), StepStatus.SKIPPED)
                for i, s in enumerate(steps)
            ]
            return self._end(job, RunStatus.SKIPPED, decision.reason, decision.guardrail, would)
        now = self.clock()
        if self._awaits_approval(job, book, now):
            return
        name = host.name if host is not None else None
        if not self.runs.start(job, now, now + self.lease_seconds, host=name):
            # Lost the lease (then nothing is written), or another run started on
            # the target (or the host) since the guardrails looked.
            where = job.target if host is None else f"{job.target} or host {host.name}"
            return self._wait(job, f"another run is acting on {where}")
        self._act(self.silencing.hold(job, book), book, steps, 0, [], host)

    def _wait(self, job: RunJob, reason: str) -> None:
        """Put the run back to wait for the one acting on its target (a lost lease
        writes nothing: whoever holds the run now decides)."""
        self.runs.wait(job, self.clock() + WAIT_RECHECK, f"waits: {reason}")

    def _stop_if_resolved(self, job: RunJob, detail: str) -> bool:
        """End the run `cancelled (resolved)` if its alert has resolved; whether it
        ended so. A read first, so the common case writes nothing; the cancel's
        own UPDATE checks the resolution again."""
        if not self.runs.resolved(job.alert_id):
            return False
        if self.runs.cancel(job, self.clock(), self.tell, detail):
            self._count(job, RunStatus.CANCELLED)
            self.silencing.release(job)
        return True

    def _approval_refused(self, job: RunJob, book: Playbook) -> str | None:
        """Why a run that waited for approval ends here: rejected, or unanswered
        at its deadline (then recorded so); None when it may go on."""
        if job.approval is Approval.REJECTED:
            return f"rejected by {job.approval_by}: {job.approval_reason}"
        deadline = job.approval_deadline
        waited = job.approval in (Approval.AWAITING, Approval.TIMED_OUT)
        if not waited or deadline is None or self.clock() < deadline:
            return None
        self.runs.approval_timed_out(job)
        return f"nobody approved within {spoken(book.approval_timeout)}"

    def _awaits_approval(self, job: RunJob, book: Playbook, now: float) -> bool:
        """Release a run that needs an operator's approval and has none yet, until
        its deadline (kept if it already had one)."""
        if not book.require_approval or job.approval is Approval.APPROVED:
            return False
        deadline = job.approval_deadline or now + book.approval_timeout
        self.runs.await_approval(job, deadline)
        return True

    def _judge(self, job: RunJob, book: Playbook, host: Host | None) -> Decision:
        candidate = self.remediation.candidate(
            book, job.target, None if host is None else host.name
        )
        history = self.remediation.history(self.runs, self.clock(), excluding=job.id)
        decision = self.remediation.decide(candidate, history)
        if decision.guardrail == FLEET_BREAKER:
            return self.remediation.trip(job, candidate, history) or decision
        return decision

    def _act(
        self, job: RunJob, book: Playbook, steps: Sequence[RenderedStep], first: int,
        failures: list[str], host: Host | None,
    ) -> None:  # fmt: skip
        """Try the steps from `first` until one works, which is then left to be
        checked; `failures` holds what went wrong before (a step not verified).
        A step's fleet `host` unreachable ends the run there."""
        ran = bool(failures)
        boundaries = self.boundaries
        if host is not None:
            boundaries = replace(boundaries, host=host, executor=self.remediation.executor)
        for index in range(first, len(steps)):
            step = steps[index]
            if self._stop_if_resolved(job, _not_started(index, failures, len(steps))):
                return
            params = rendered_params(step)
            now = self.clock()
            started = StepRecord(index, step.action.name, params, StepStatus.STARTED)
            if not self.runs.start_step(job, started, now, now + step.timeout + self.lease_seconds):
                return  # our lease is gone: whoever holds the run now decides
            result = step.action.run(step.params, step.timeout, boundaries)
            done = self._step_done(index, step, params, result)
            if result.outcome is ActionOutcome.SUCCEEDED:
                now = self.clock()
                check = self.remediation.checks.begin(
                    book.verify, job.generator_url, job.alertname, now
                )
                self.runs.await_verification(job, done, now, now + _settle(book), check)
                return
            self.runs.finish_step(job, done, self.clock())
            failures.append(f"step {index} ({step.action.name}): {result.detail or result.outcome}")
            if result.outcome is ActionOutcome.UNREACHABLE:
                failures.append("no further step is tried on an unreachable host")
                return self._end(job, RunStatus.FAILED, "; ".join(failures))
        status = RunStatus.INEFFECTIVE if ran else RunStatus.FAILED
        self._end(job, status, "; ".join(failures) or "no step ran")

    def _check(self, job: RunJob, index: int) -> None:
        """A step worked a while ago: did the alert's condition clear?"""
        book = self.remediation.book(job.playbook)
        if book is None:
            detail = f"playbook {job.playbook} is no longer in the playbook file: not verified"
            return self._end(job, RunStatus.INEFFECTIVE, detail)
        now = self.clock()
        check = job.verification or self.remediation.checks.begin(
            book.verify, job.generator_url, job.alertname, now - _settle(book)
        )  # a run left verifying by an older webhook, which stored no verification
        verdict = self.remediation.checks.verify(check, job.labels, now)
        if not verdict.final:
            due = min(now + poll_interval(check.window), check.until)
            self.runs.check_again(job, due)
            return
        if not self.runs.record_verdict(job, index, verdict.detail):
            return
        name = book.actions[index].action if index < len(book.actions) else "step"
        said = f"step {index} ({name}) {verdict.detail}"
        if verdict.cleared:
            return self._end(job, RunStatus.VERIFIED, said)
        if self._stop_if_resolved(job, _not_started(index + 1, [said], len(book.actions))):
            return None
        try:
            steps = render_all(book, self.remediation.playbooks, job.labels)
            host = self.remediation.host_of(book, job.labels)
        except (Refused, NotInFleet) as refused:
            return self._end(job, RunStatus.INEFFECTIVE, f"{said}; {refused}")
        self._act(job, book, steps, index + 1, [said], host)

    def _step_done(
        self, index: int, step: RenderedStep, params: dict[str, object], result: ActionResult
    ) -> StepRecord:
        status = _STEP_STATUS[result.outcome]
        self.metrics.remediation_action_duration.labels(step.action.name, status.value).observe(
            max(0.0, result.duration)
        )
        return StepRecord(
            index, step.action.name, params, status, result.status, result.output,
            result.detail or None, result.duration,
        )  # fmt: skip


def _not_started(index: int, failures: Sequence[str], steps: int) -> str:
    """Why a run of `steps` steps stops before step `index`: its alert resolved."""
    if index == 0 and not failures:
        return NOTHING_DONE
    left = f"step {index} and after were not started" if index < steps else "no step was left"
    return "; ".join([*failures, f"its alert resolved: {left}"])


def _settle(book: Playbook) -> float:
    """How long after a step worked its first check is due: the delay, then the
    window."""
    return book.verify.delay + book.verify.window
