"""A step run on the fleet host its run resolved, through the executor
(fleet/executor.py): what the `ansible` action and restart_service's remote
form share. The executor's per-host outcome becomes the step's:

    ok, changed → succeeded   failed → failed   timed_out → timed_out
    unreachable → unreachable (the run stops there: runner.py)
"""

from __future__ import annotations

from alert_webhook.fleet.executor import HostOutcome, Job
from alert_webhook.remediation.actions.base import ActionOutcome, ActionResult, Boundaries, tail

_OUTCOMES = {
    HostOutcome.OK: ActionOutcome.SUCCEEDED,
    HostOutcome.CHANGED: ActionOutcome.SUCCEEDED,
    HostOutcome.FAILED: ActionOutcome.FAILED,
    HostOutcome.TIMED_OUT: ActionOutcome.TIMED_OUT,
    HostOutcome.UNREACHABLE: ActionOutcome.UNREACHABLE,
}


def run_on_host(job: Job, timeout: float, ctx: Boundaries) -> ActionResult:
    """`job` on the run's host; failed, nothing started, when the run has no host
    or no executor (the runner resolves both before a host-bound step runs)."""
    if ctx.host is None or ctx.executor is None:
        detail = "no fleet host was resolved for this step (fleet.inventory; docs/fleet.md)"
        return ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail)
    done = ctx.executor.run(ctx.host, job, timeout)
    outcome = _OUTCOMES[done.outcome]
    if outcome is ActionOutcome.SUCCEEDED:
        detail = f"{done.host}: {done.outcome}"
    else:
        detail = done.detail or f"{done.host}: {done.outcome}"
    output = f"{done.summary}\n{done.output}" if done.summary else done.output
    return ActionResult(outcome, done.rc, tail(output.encode()), done.duration, detail)
