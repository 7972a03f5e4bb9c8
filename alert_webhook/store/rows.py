"""What crosses the store's boundary: delivery states and purposes, new delivery rows,
and the outcomes the delivery worker reports. Callers speak these; bind names and
statements stay inside the store."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from alert_webhook.routing import Target


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (first try, retry, a breaker's trial)
    IN_FLIGHT = "in_flight"  # claimed by a worker under a lease
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up, and nothing else could carry it
    SKIPPED = "skipped"  # its channel or recipient is not configured, or it is moot
    ESCALATED = "escalated"  # gave up here; the alert's other channels carry it
    # Planned, but held back until the alert's remediation run ends (`notify:
    # after_attempt`): the run's final transaction releases it or settles it.
    HELD = "held"

    @property
    def final(self) -> bool:
        return self not in (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT, DeliveryStatus.HELD)


class Purpose(StrEnum):
    """Why a message is sent. Stored as `notify`, `remind-<n>`, `tier-<n>` and
    `failover:<channel>`: `nth` and `of` build the numbered and per-channel forms."""

    NOTIFY = "notify"  # the state change itself
    REMIND = "remind"  # a still-firing, unacknowledged critical alert, again
    TIER = "tier"  # its response deadline passed: the next tier of people
    FAILOVER = "failover"  # another channel could not deliver it
    REMEDIATION = "remediation"  # how a remediation run ended, `remediation-<run id>`

    def nth(self, n: int) -> str:
        return f"{self.value}-{n}"

    def of(self, channel: str) -> str:
        return f"{self.value}:{channel}"


# Recording writes a row per channel and recipient of every alert: the factories
# below build the tuple directly (a third of the cost of the generated __new__) and
# hold plain strings, which the driver binds without looking for an adapter first.
_tuple_new = tuple.__new__
_PENDING = DeliveryStatus.PENDING.value
_DELIVERED = DeliveryStatus.DELIVERED.value
_NOTIFY = Purpose.NOTIFY.value


class NewDelivery(NamedTuple):
    """A delivery to insert. A tuple in the table's column order, which is the bulk
    INSERT's bind order, so recording hundreds of them hands them to the driver as
    they are (no dict or reordering per row)."""

    alert_id: int
    event_id: int
    event_status: str
    channel: str
    recipient: str
    purpose: str
    status: str
    attempts: int
    next_attempt_at: float
    provider: str | None
    note: str | None
    received_at: float
    finished_at: float | None

    @classmethod
    def pending(
        cls,
        alert_id: int,
        event_id: int,
        event_status: str,
        target: Target,
        purpose: str,
        at: float,
        note: str | None = None,
    ) -> NewDelivery:
        """For the delivery worker, due at once."""
        return _tuple_new(cls, (
            alert_id, event_id, event_status, target.channel, target.recipient, purpose,
            _PENDING, 0, at, None, note, at, None,
        ))  # fmt: skip

    @classmethod
    def stored(
        cls, alert_id: int, event_id: int, event_status: str, target: Target, at: float, now: float,
        purpose: str = _NOTIFY, note: str | None = None,
    ) -> NewDelivery:  # fmt: skip
        """Delivered as it is written: its channel's transport is the store itself."""
        return _tuple_new(cls, (
            alert_id, event_id, event_status, target.channel, target.recipient, purpose,
            _DELIVERED, 1, at, target.channel, note, at, now,
        ))  # fmt: skip


DELIVERY_COLUMNS = NewDelivery._fields


@dataclass(frozen=True, slots=True)
class Outcome:
    """A claimed delivery's final state, as the worker that holds its lease reports it."""

    delivery_id: int
    claim: str  # the lease token the delivery was claimed with
    status: DeliveryStatus
    at: float
    provider: str | None = None
    note: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if not self.status.final:
            raise ValueError(f"an outcome is a final state, not {self.status}")


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
