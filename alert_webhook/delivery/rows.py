"""What crosses the store's boundary: delivery states and purposes, new delivery rows,
and the outcomes the delivery worker reports. Callers speak these; bind names and
statements stay inside the store."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from alert_webhook.db.schema import UNSETTLED_STATUSES
from alert_webhook.delivery.routing import Target


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
        return self.value not in UNSETTLED_STATUSES


class Purpose(StrEnum):
    """Why a message is sent. Stored as `notify`, `remind-<n>`, `tier-<n>` and
    `failover:<channel>`: `nth` and `of` build the numbered and per-channel forms."""

    NOTIFY = "notify"  # the state change itself
    REMIND = "remind"  # a still-firing, unacknowledged critical alert, again
    TIER = "tier"  # its response deadline passed: the next tier of people
    FAILOVER = "failover"  # another channel could not deliver it
    REMEDIATION = "remediation"  # how a remediation run ended, `remediation-<run id>`
    FLAPPING = "flapping"  # its alert held one state long enough: stopped flapping
    FLEET_BREAKER = "fleet-breaker"  # automation paused for the fleet, `fleet-breaker-<pause>`
    # A target healed too often (remediation/recurring.py), `recurring-heals-<run>`
    RECURRING_HEALS = "recurring-heals"

    def nth(self, n: int) -> str:
        return f"{self.value}-{n}"

    def of(self, channel: str) -> str:
        return f"{self.value}:{channel}"


# The note of a state change's messages left unsent because its alert is flapping
# (incidents/flapping.py): one earlier message said so, and the end will be told.
HUSHED = "not sent: the alert is flapping (told once)"

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

    @classmethod
    def skipped(
        cls, alert_id: int, event_id: int, event_status: str, target: Target, at: float,
        note: str,
    ) -> NewDelivery:  # fmt: skip
        """Recorded and settled unsent: moot, for the reason `note` gives."""
        return _tuple_new(cls, (
            alert_id, event_id, event_status, target.channel, target.recipient, _NOTIFY,
            DeliveryStatus.SKIPPED.value, 0, at, None, note, at, at,
        ))  # fmt: skip


def telling(
    alert_id: int, event_id: int, targets: Iterable[Target], stored_channels: Collection[str],
    purpose: str, text: str, now: float,
) -> list[NewDelivery]:  # fmt: skip
    """One message of `purpose` saying `text` to each target once, about a firing
    alert: delivered as written on a channel the store itself is, else pending for
    the worker. What escalations, the fleet breaker's page and a recurring heal's
    page send."""
    rows = []
    for target in dict.fromkeys(targets):
        args = (alert_id, event_id, "firing", target)
        if target.channel in stored_channels:
            rows.append(NewDelivery.stored(*args, now, now, purpose, text))
        else:
            rows.append(NewDelivery.pending(*args, purpose, now, text))
    return rows


DELIVERY_COLUMNS = NewDelivery._fields


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
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
