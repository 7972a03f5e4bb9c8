"""What a remediation run tells people: the notifications held until it ends,
and what its ending sends, written in the ending's own transaction.

**Every ending tells people in its own transaction.** `RunStore.finish`
and `interrupt` write the final state, then hand what the store knows of the
run (`Ended`: the alert, its steps, whether its notification is held) to the
caller's `Tell`, and write the deliveries it returns and the held
notifications it releases or settles, in the same transaction: a crash either
loses the ending and its messages together (and the lease brings the run back)
or keeps both. The planner holds a `notify: after_attempt` alert's
notifications (`held`) in the transaction that plans its run, so nothing is
ever sent early or lost.

A verified ending may also page (`recurring.py`): when `tell` hands back a
`RecurringHeals`, the target's verified runs in its window are counted here,
and past its limit one guarded write of the target's `recurring_heals` row
decides which transaction pages — the first in a window, once across replicas.

Recording a resolution updates the alert's row before it looks for held
notifications, and an ending locks that row before it reads them, so on
PostgreSQL the two transactions queue on the row and neither misses the
other's held rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import exists, select, update
from sqlalchemy.engine import Connection

from alert_webhook.db.bulk import Bulk, insert_for
from alert_webhook.db.schema import (
    alerts,
    deliveries,
    recurring_heals,
    remediation_runs,
    remediation_steps,
)
from alert_webhook.delivery.rows import DeliveryStatus, NewDelivery, Purpose
from alert_webhook.ingest.planners import StateChange, Tally
from alert_webhook.remediation.recurring import Heal, RecurringHeals
from alert_webhook.remediation.states import RunStatus, StepRecord, StepStatus

HELD = DeliveryStatus.HELD.value
runs, steps = remediation_runs, remediation_steps


@dataclass(frozen=True)
class Ended:
    """A run at its end, as its final transaction reads it: what a `Tell` needs to
    say how it went and to whom."""

    run_id: int
    alert_id: int
    event_id: int
    playbook: str
    target: str
    status: RunStatus
    detail: str | None
    guardrail: str | None
    alertname: str
    severity: str
    labels: dict[str, str]
    resolved: bool  # the alert resolved before the run ended
    held: bool  # its notification is held until now (`notify: after_attempt`)
    steps: tuple[StepRecord, ...]

    @property
    def purpose(self) -> str:
        return Purpose.REMEDIATION.nth(self.run_id)


@dataclass(frozen=True)
class Telling:
    """What a run's ending sends: new deliveries, and what becomes of a held
    notification — `release` sends it now with that note, `settle` drops it (skipped)
    with that note. Held deliveries on `stored_channels` are delivered on release."""

    deliveries: Sequence[NewDelivery] = ()
    release: str | None = None
    settle: str | None = None
    stored_channels: frozenset[str] = frozenset()
    # A verified run: page when its target has been healed too often (recurring.py).
    heals: RecurringHeals | None = None


class Tell(Protocol):
    def __call__(self, ended: Ended, now: float) -> Telling: ...


def still_held(conn: Connection, resolved: Sequence[StateChange]) -> list[StateChange]:
    """The resolutions of alerts whose firing notification is still held."""
    if not resolved:
        return []
    ids = conn.execute(
        select(deliveries.c.alert_id).distinct().where(
            deliveries.c.alert_id.in_([c.alert_id for c in resolved]),
            deliveries.c.event_status == "firing",
            deliveries.c.status == HELD,
        )
    ).scalars()  # fmt: skip
    found = set(ids)
    return [c for c in resolved if c.alert_id in found]


def hold(conn: Connection, changes: Sequence[StateChange], tally: Tally) -> None:
    """Hold the notifications planned for these state changes; they are then
    neither queued nor delivered in what recording reports."""
    index = {c.id: c.index for c in changes}
    notify = (deliveries.c.event_id.in_(list(index)), deliveries.c.purpose == Purpose.NOTIFY)
    planned = conn.execute(
        select(deliveries.c.event_id, deliveries.c.channel, deliveries.c.status).where(*notify)
    ).all()
    for event_id, channel, status in planned:
        i = index[event_id]
        if status == DeliveryStatus.PENDING:
            tally.queued[i] -= 1
        elif (counts := tally.stored[i]) is not None:
            counts[channel] -= 1
            if counts[channel] <= 0:
                del counts[channel]
    conn.execute(
        update(deliveries).where(*notify).values(status=HELD, finished_at=None, provider=None)
    )
    tally.unsend(index)


def tell_ending(conn: Connection, insert: Bulk, run_id: int, now: float, tell: Tell) -> Telling:
    """The one place a run's ending reaches people: what `tell` makes of it,
    written in the ending's transaction; what it told."""
    ended = _ended(conn, run_id)
    telling = tell(ended, now)
    if telling.heals is not None and ended.status is RunStatus.VERIFIED:
        telling = _recurring(conn, ended, telling, telling.heals, now)
    if telling.deliveries:
        insert(conn, list(telling.deliveries))
    held = (deliveries.c.alert_id == ended.alert_id, deliveries.c.status == HELD)
    if telling.settle is not None:
        settled = {"status": DeliveryStatus.SKIPPED.value, "finished_at": now,
                   "note": telling.settle}  # fmt: skip
        conn.execute(update(deliveries).where(*held).values(**settled))
    elif telling.release is not None:
        stored = deliveries.c.channel.in_(sorted(telling.stored_channels))
        conn.execute(
            update(deliveries).where(*held, stored).values(
                status=DeliveryStatus.DELIVERED.value, finished_at=now,
                provider=deliveries.c.channel, note=telling.release,
            )
        )  # fmt: skip
        conn.execute(
            update(deliveries).where(*held).values(
                status=DeliveryStatus.PENDING.value, next_attempt_at=now,
                note=telling.release,
            )
        )  # fmt: skip
    return telling


def _recurring(
    conn: Connection, ended: Ended, telling: Telling, watch: RecurringHeals, now: float
) -> Telling:
    """`telling` with the recurring-heals page added, when this heal is one too
    many for its target and this transaction is the one that pages (the guarded
    write of the target's row, `claim_page`)."""
    heals = recent_heals(conn, ended.target, now - watch.window)
    if not watch.exceeded(heals) or not claim_page(conn, ended.target, heals, now, watch.window):
        return telling
    page = watch.page(ended.run_id, ended.alert_id, ended.event_id, ended.target,
                      ended.labels, ended.severity, heals, now)  # fmt: skip
    return replace(telling, deliveries=[*telling.deliveries, *page])


def recent_heals(conn: Connection, target: str, since: float) -> list[Heal]:
    """The target's runs that ended verified after `since`, oldest first."""
    rows = conn.execute(
        select(runs.c.id, runs.c.playbook, alerts.c.alertname, runs.c.finished_at)
        .join(alerts, alerts.c.id == runs.c.alert_id)
        .where(runs.c.target == target, runs.c.status == RunStatus.VERIFIED.value,
               runs.c.finished_at > since)
        .order_by(runs.c.finished_at, runs.c.id)
    ).all()  # fmt: skip
    return [Heal(r.id, r.playbook, r.alertname, r.finished_at) for r in rows]


def claim_page(
    conn: Connection, target: str, heals: Sequence[Heal], now: float, window: float
) -> bool:
    """Whether this transaction pages for `target` now: the first page of a target
    inserts its row, a later one updates it only once the last page is a window
    old. Each is one guarded statement, so of replicas paging at once one wins."""
    row = {"paged_at": now, "heals": len(heals),
           "run_ids": json.dumps([h.run_id for h in heals])}  # fmt: skip
    first = insert_for(conn.dialect)(recurring_heals).values(target=target, **row)
    inserted = first.on_conflict_do_nothing().returning(recurring_heals.c.target)
    if conn.execute(inserted).first() is not None:
        return True
    again = conn.execute(
        update(recurring_heals)
        .where(recurring_heals.c.target == target, recurring_heals.c.paged_at <= now - window)
        .values(**row)
    )  # fmt: skip
    return again.rowcount == 1


def _ended(conn: Connection, run_id: int) -> Ended:
    """The run just ended, with its alert and steps. The alert's row is locked first:
    recording a resolution updates that row before it looks for held notifications,
    so the two transactions never both miss each other's held rows."""
    run = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().one()
    alert = conn.execute(
        select(alerts.c.alertname, alerts.c.severity, alerts.c.labels, alerts.c.status)
        .where(alerts.c.id == run["alert_id"])
        .with_for_update()
    ).one()
    is_held = deliveries.c.alert_id == run["alert_id"], deliveries.c.status == HELD
    held = conn.execute(select(exists().where(*is_held))).scalar()
    tried = conn.execute(select(steps).where(steps.c.run_id == run_id).order_by(steps.c.step))
    return Ended(
        run_id=run_id, alert_id=run["alert_id"], event_id=run["event_id"],
        playbook=run["playbook"], target=run["target"], status=RunStatus(run["status"]),
        detail=run["detail"], guardrail=run["guardrail"], alertname=alert.alertname,
        severity=alert.severity, labels=json.loads(alert.labels),
        resolved=alert.status == "resolved", held=bool(held),
        steps=tuple(
            StepRecord(s.step, s.action, json.loads(s.params), StepStatus(s.status),
                       s.exit_status, s.output, s.detail, s.duration)
            for s in tried
        ),
    )  # fmt: skip
