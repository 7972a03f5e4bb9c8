"""Remediation's states: runs, approvals and steps, as the run store writes them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """A remediation run's state: planned with its state change, claimed by a runner,
    waiting (between claims) for its verification, then one final state."""

    PLANNED = "planned"  # waiting for a runner
    IN_FLIGHT = "in_flight"  # claimed under a lease (acting once `started_at` is set)
    AWAITING_APPROVAL = "awaiting_approval"  # held for an operator until its deadline
    VERIFYING = "verifying"  # a step worked; its check is due at `next_attempt_at`
    VERIFIED = "verified"  # a step worked and the alert's condition cleared
    INEFFECTIVE = "ineffective"  # steps ran, but the condition never cleared
    FAILED = "failed"  # nothing ran to the end: every step failed, or its runner died
    BLOCKED = "blocked"  # a guardrail or a label refused it: nothing ran
    SKIPPED = "skipped"  # a dry run: recorded what would have run

    @property
    def final(self) -> bool:
        waiting = (RunStatus.AWAITING_APPROVAL, RunStatus.VERIFYING)
        return self not in (RunStatus.PLANNED, RunStatus.IN_FLIGHT, *waiting)

    @property
    def escalates(self) -> bool:
        """An ending people must hear of: the automation did not fix the alert."""
        return self in (RunStatus.FAILED, RunStatus.INEFFECTIVE, RunStatus.BLOCKED)


class Approval(StrEnum):
    """Where a run of a playbook that needs an operator's approval stands."""

    AWAITING = "awaiting"  # asked for, not given yet
    APPROVED = "approved"  # the runner may act (judging the guardrails again)
    REJECTED = "rejected"  # an operator said no: it ends blocked
    TIMED_OUT = "timed_out"  # nobody answered before the deadline: it ends blocked


class StepStatus(StrEnum):
    STARTED = "started"  # written before the action runs
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"  # its runner died while it ran: its effect is unknown
    SKIPPED = "skipped"  # a dry run: rendered, not run


@dataclass(frozen=True)
class StepRecord:
    """One step's row: what ran (or would have) and what it returned."""

    step: int
    action: str
    params: dict[str, Any]
    status: StepStatus
    exit_status: int | None = None
    output: str | None = None
    detail: str | None = None
    duration: float | None = None
