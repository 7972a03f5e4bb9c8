"""The delivery planner: the messages each state change sends, planned in its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.schema import SEVERITY_RANKS, UNRANKED, deliveries
from alert_webhook.delivery.outbox import DeliveryInsert, delivery_insert
from alert_webhook.delivery.routing import Router, Target
from alert_webhook.delivery.rows import HUSHED, DeliveryStatus, NewDelivery, Purpose
from alert_webhook.ingest.planners import PerDialect, StateChange, Tally


class DeliveryPlanner:
    """Deliveries for each state change: firing ones routed by their labels; a resolved
    one where its firing message went (not where it was skipped), or routed like a new
    alert when there is no firing record. Deliveries on `stored_channels` (the
    dashboard) are written as delivered: storing them is delivering them.

    A change of a flapping alert (the flapping planner's verdict in the tally):
    the one that began the episode carries its note ("flapping: 5 changes in 30
    min"); those after it are recorded `skipped`, noted HUSHED."""

    def __init__(self, router: Router, stored_channels: frozenset[str]) -> None:
        self.router = router
        self.stored_channels = stored_channels
        self._statements = PerDialect()

    @staticmethod
    def _build(dialect: Dialect) -> tuple[DeliveryInsert, Any]:
        firing_targets = (
            select(deliveries.c.alert_id, deliveries.c.channel, deliveries.c.recipient)
            .where(
                deliveries.c.alert_id.in_(bindparam("ids", expanding=True)),
                deliveries.c.event_status == "firing",
                deliveries.c.purpose == Purpose.NOTIFY,
                deliveries.c.status != DeliveryStatus.SKIPPED,
            )
            .order_by(deliveries.c.id)
        )
        return delivery_insert(dialect), firing_targets

    def plan(
        self, conn: Connection, changes: Sequence[StateChange], now: float, tally: Tally
    ) -> None:
        insert, firing_targets = self._statements.get(conn.dialect, self._build)
        routed = {c.alert_id: self.router.targets(c.alert.labels) for c in changes
                  if c.status == "firing"}  # fmt: skip
        went: dict[int, list[Target]] = {}
        resolved = [c.alert_id for c in changes if c.status == "resolved"]
        if resolved:
            for r in conn.execute(firing_targets, {"ids": resolved}):
                went.setdefault(r.alert_id, []).append(Target(r.channel, r.recipient))
            for alert_id in resolved:  # fired in this very batch: where that message goes
                went.setdefault(alert_id, []).extend(routed.get(alert_id, []))
        rows: list[NewDelivery] = []
        for c in changes:
            targets = routed.get(c.alert_id) if c.status == "firing" else None
            if targets is None:
                targets = list(dict.fromkeys(went.get(c.alert_id, []))) or self.router.targets(
                    c.alert.labels
                )
            note = tally.flapping.get(c.id)  # set on the change that began an episode
            at = c.received_at
            if note is None and c.id in tally.flapping:  # hushed: one message said so
                rows += [NewDelivery.skipped(c.alert_id, c.id, c.status, t, at, HUSHED)
                         for t in targets]  # fmt: skip
                continue
            for target in targets:
                if target.channel in self.stored_channels:
                    rows.append(
                        NewDelivery.stored(c.alert_id, c.id, c.status, target, at, now, note=note)
                    )
                    tally.count_stored(c.index, target.channel)
                else:
                    rows.append(NewDelivery.pending(
                        c.alert_id, c.id, c.status, target, Purpose.NOTIFY, at, note
                    ))  # fmt: skip
                    tally.queued[c.index] += 1
        if rows:
            ranks = {c.alert_id: SEVERITY_RANKS.get(c.alert.severity, UNRANKED) for c in changes}
            insert(conn, rows, ranks)
