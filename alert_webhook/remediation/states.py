"""Remediation's states: runs, approvals and steps, as the run store writes them,
and the one table of how runs and steps move between them (`RUN_TRANSITIONS`,
`STEP_TRANSITIONS`).

The run store (`runs.py`) guards every UPDATE of a status with the states the
table lets into the new one (`status IN (...)` from `Transitions.into`), so a move
the table does not hold matches no row and changes nothing: the machine is
enforced by the writes themselves, in the statements they already make.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar


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
    # Its alert resolved first: it was stopped before acting, or before its next
    # step (`guardrail` says why: `RESOLVED`); nothing more was done.
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """No way out of it (`RUN_TRANSITIONS`): the run has ended."""
        return RUN_TRANSITIONS.final(self)

    @property
    def escalates(self) -> bool:
        """An ending people must hear of: the automation did not fix the alert."""
        return self in (RunStatus.FAILED, RunStatus.INEFFECTIVE, RunStatus.BLOCKED)


# Why a run was cancelled, in its `guardrail` (the console shows "cancelled
# (resolved)"): its alert resolved before it acted, or before its next step.
RESOLVED = "resolved"
# Why a planned run waits (in its `guardrail` while planned): another run is
# acting on its target, and it waits for that one to end (`RunStore.wait`).
WAITING = "one_at_a_time"


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
    UNREACHABLE = "unreachable"  # its fleet host could not be reached: the run stops
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


S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Transitions(Generic[S]):
    """A state machine written down: the states a row is first written in
    (`begins`), and for each state the states it may move to next (`moves`; none:
    it is final)."""

    begins: frozenset[S]
    moves: Mapping[S, frozenset[S]]
    _into: dict[S, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        into = {
            to: tuple(sorted(s.value for s, targets in self.moves.items() if to in targets))
            for to in self.moves
        }
        object.__setattr__(self, "_into", into)

    def into(self, target: S) -> tuple[str, ...]:
        """The states a row may move to `target` from, as a guarded UPDATE names
        them (`status IN (...)`); empty, so that no row matches, for a state
        nothing moves into."""
        return self._into[target]

    def allows(self, source: S, target: S) -> bool:
        return target in self.moves[source]

    def final(self, state: S) -> bool:
        return not self.moves[state]

    def edges(self) -> frozenset[tuple[S, S]]:
        return frozenset((s, to) for s, targets in self.moves.items() for to in targets)


_R, _S = RunStatus, StepStatus

RUN_TRANSITIONS: Transitions[RunStatus] = Transitions(
    # Planned with the firing state change that asks for it (`RemediationPlanner`).
    begins=frozenset({_R.PLANNED}),
    moves={
        _R.PLANNED: frozenset({
            _R.IN_FLIGHT,  # due: a runner claims it under the lease (`claim`)
            _R.CANCELLED,  # its alert resolved first: the resolution's planner
            # cancels it in the transaction that records the resolution
            # (`cancel_for_resolution`)
        }),
        _R.IN_FLIGHT: frozenset({
            _R.IN_FLIGHT,  # its lease ran out (runner died or hung): another claims it
            _R.AWAITING_APPROVAL,  # its playbook needs an operator (`await_approval`)
            _R.VERIFYING,  # a step worked (`await_verification`), or its check has
            # not cleared yet before the deadline (`check_again`): the lease let go
            _R.VERIFIED,  # the check found the condition gone (`finish`)
            _R.INEFFECTIVE,  # a step ran, no condition cleared in time (`finish`)
            _R.FAILED,  # nothing ran to the end (`finish`), or its runner died (`interrupt`)
            _R.BLOCKED,  # a guardrail, a label or the operator refused it (`finish`)
            _R.SKIPPED,  # a dry run: what would have run recorded (`finish`)
            _R.CANCELLED,  # the runner found its alert resolved before its next
            # step, or its check not cleared with the alert resolved (`cancel`)
            _R.PLANNED,  # another run acts on its target: it waits for that one (`wait`)
        }),
        _R.AWAITING_APPROVAL: frozenset({
            _R.PLANNED,  # an operator approved or rejected it in time (`answer`)
            _R.IN_FLIGHT,  # its deadline passed: a runner claims it to go on or end it
            _R.CANCELLED,  # its alert resolved while it waited (`cancel_for_resolution`)
        }),
        _R.VERIFYING: frozenset({
            _R.IN_FLIGHT,  # its check is due: a runner claims it
        }),
        _R.VERIFIED: frozenset(),
        _R.INEFFECTIVE: frozenset(),
        _R.FAILED: frozenset(),
        _R.BLOCKED: frozenset(),
        _R.SKIPPED: frozenset(),
        _R.CANCELLED: frozenset(),
    },
)  # fmt: skip

STEP_TRANSITIONS: Transitions[StepStatus] = Transitions(
    # `started` before its action runs (`start_step`); a dry run's steps are
    # written `skipped` with the run's ending (`finish`).
    begins=frozenset({_S.STARTED, _S.SKIPPED}),
    moves={
        _S.STARTED: frozenset({
            _S.SUCCEEDED,  # its action worked (`await_verification`)
            _S.FAILED,  # its action failed (`finish_step`)
            _S.TIMED_OUT,  # its action ran past its timeout (`finish_step`)
            _S.UNREACHABLE,  # its fleet host could not be reached (`finish_step`)
            _S.INTERRUPTED,  # its runner died while it ran (`interrupt`)
        }),
        _S.SUCCEEDED: frozenset(),
        _S.FAILED: frozenset(),
        _S.TIMED_OUT: frozenset(),
        _S.UNREACHABLE: frozenset(),
        _S.INTERRUPTED: frozenset(),
        _S.SKIPPED: frozenset(),
    },
)  # fmt: skip
