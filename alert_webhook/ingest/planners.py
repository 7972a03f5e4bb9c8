"""Planners: what each new state change sets in motion, in the transaction that
records it — so a crash between the two cannot happen, and every replica's copy of
a notification plans nothing twice (only the inserter of a state change sees it).

A planner gets the batch's new state changes and the open connection, writes its
rows, and counts what it did in the `Tally`. Today, in this order: incidents
(open on firing, close on resolved), flapping (an alert changing state too often:
one notice, the rest hushed; the tally carries the verdicts to the planners
after it), deliveries (routed by labels; a resolved message goes where its
firing one went) and, when remediation is on, remediation runs. Statements are
compiled once per dialect.

"Plan" has this one meaning in the webhook: what a planner writes with a state
change, in its transaction. A `planned` run is one so written (or handed back by
an approval) that no runner has taken yet. The answer of `POST /api/plan` is
the preview (`remediation/preview.py`); the plan the stack carries out is "the
recovery plan".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Dialect

from alert_webhook.ingest.payload import Alert


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state change this batch inserted, with the copy of the alert that brought it."""

    id: int  # the alert_events row
    alert_id: int
    status: str
    index: int  # which notification of the batch brought it
    alert: Alert
    received_at: float


class Tally:
    """What the planners did, per notification of the batch."""

    def __init__(self, size: int) -> None:
        self.queued = [0] * size  # deliveries left pending for the delivery worker
        self.stored: list[Counter[str] | None] = [None] * size  # delivered when written
        self.planned_runs = [0] * size  # remediation runs for the runner
        # State changes of flapping alerts (incidents/flapping.py), by event id:
        # the note of the one whose messages say so, None for those hushed after it.
        # Written by the flapping planner, read by the planners after it.
        self.flapping: dict[int, str | None] = {}
        # Messages on channels that settle in the recording transaction (the log):
        # their rows are written delivered, their sends wait here, by event id,
        # until every planner ran (one may hold them back), then run before the
        # commit. Each gets the open connection and this tally.
        self.sends: list[tuple[int, Callable[[Connection, Tally], None]]] = []

    def count_stored(self, index: int, channel: str, count: int = 1) -> None:
        counts = self.stored[index]
        if counts is None:
            counts = self.stored[index] = Counter()
        counts[channel] += count
        if counts[channel] <= 0:
            del counts[channel]

    def unsend(self, event_ids: Collection[int]) -> None:
        """Their messages are held back: the sends waiting for them do not run."""
        self.sends = [s for s in self.sends if s[0] not in event_ids]

    def send(self, conn: Connection) -> None:
        """Run the waiting sends, in the recording transaction before its commit."""
        sends, self.sends = self.sends, []
        for _event_id, send in sends:
            send(conn, self)


class Planner(Protocol):
    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None: ...


class PerDialect:
    """Statements compiled for each dialect a planner meets (SQLite, PostgreSQL)."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def get(self, dialect: Dialect, build: Any) -> Any:
        statements = self._built.get(dialect.name)
        if statements is None:
            statements = self._built[dialect.name] = build(dialect)
        return statements


@dataclass(frozen=True)
class Recording:
    """How notifications are recorded: the planners run on each batch's new state
    changes, and the heartbeat alert that is only noted, never stored as an alert."""

    planners: Sequence[Planner] = field(default_factory=tuple)
    heartbeat: str | None = None
