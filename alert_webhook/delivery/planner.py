"""The delivery planner: the messages each state change sends, planned in its transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.schema import SEVERITY_RANKS, UNRANKED, deliveries
from alert_webhook.delivery.channels import Channel, Message
from alert_webhook.delivery.outbox import DeliveryInsert, delivery_insert
from alert_webhook.delivery.routing import Router, Target
from alert_webhook.delivery.rows import HUSHED, DeliveryStatus, NewDelivery, Purpose
from alert_webhook.delivery.settings import LinkSettings
from alert_webhook.ingest.planners import PerDialect, StateChange, Tally

logger = logging.getLogger("alert_webhook.delivery")
_DELIVERED = DeliveryStatus.DELIVERED.value
_NOTIFY = Purpose.NOTIFY.value
# A send in the recording transaction that failed: the worker takes it as any other.
_TO_THE_WORKER = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"))
    .values(status=DeliveryStatus.PENDING.value, attempts=0, provider=None, finished_at=None)
)


class DeliveryPlanner:
    """Deliveries for each state change: firing ones routed by their labels; a resolved
    one where its firing message went (not where it was skipped), or routed like a new
    alert when there is no firing record. Deliveries on `stored_channels` (the
    dashboard) are written as delivered: storing them is delivering them.

    A change of a flapping alert (the flapping planner's verdict in the tally):
    the one that began the episode carries its note ("flapping: 5 changes in 30
    min"); those after it are recorded `skipped`, noted HUSHED.

    Deliveries on `inline` channels (the log: a local line, nothing to wait for)
    are written delivered too, and their message is sent in the same transaction
    once every planner ran (`Tally.sends`), before the commit: no worker claims
    them. A resolved one goes that way only when its firing message on that
    channel was delivered; otherwise the worker holds it for its firing one, as
    ever. A send that raises leaves its delivery pending for the worker."""

    def __init__(
        self, router: Router, stored_channels: frozenset[str],
        inline: Mapping[str, Channel] | None = None, links: LinkSettings | None = None,
    ) -> None:  # fmt: skip
        self.router = router
        self.stored_channels = stored_channels
        self.inline = dict(inline or {})
        self.links = links or LinkSettings()
        self._statements = PerDialect()

    @staticmethod
    def _build(dialect: Dialect) -> tuple[DeliveryInsert, Any]:
        firing_targets = (
            select(
                deliveries.c.alert_id,
                deliveries.c.channel,
                deliveries.c.recipient,
                deliveries.c.status,
            )
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
        # Where a firing message is delivered: a resolved one may be sent inline there.
        delivered: set[tuple[int, Target]] = set()
        resolved = [c.alert_id for c in changes if c.status == "resolved"]
        if resolved:
            for r in conn.execute(firing_targets, {"ids": resolved}):
                target = Target(r.channel, r.recipient)
                went.setdefault(r.alert_id, []).append(target)
                if r.status == _DELIVERED:
                    delivered.add((r.alert_id, target))
            for alert_id in resolved:  # fired in this very batch: where that message goes
                went.setdefault(alert_id, []).extend(routed.get(alert_id, []))
        rows: list[NewDelivery] = []
        inline: list[tuple[StateChange, Channel, Target, str | None]] = []
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
                channel = self.inline.get(target.channel)
                if channel is not None and (
                    c.status == "firing" or (c.alert_id, target) in delivered
                ):
                    rows.append(NewDelivery.stored(c.alert_id, c.id, c.status, target, at, now,
                                                   note=note))  # fmt: skip
                    tally.count_stored(c.index, target.channel)
                    inline.append((c, channel, target, note))
                    if c.status == "firing":
                        delivered.add((c.alert_id, target))
                elif target.channel in self.stored_channels:
                    rows.append(
                        NewDelivery.stored(c.alert_id, c.id, c.status, target, at, now, note=note)
                    )
                    tally.count_stored(c.index, target.channel)
                else:
                    rows.append(NewDelivery.pending(
                        c.alert_id, c.id, c.status, target, Purpose.NOTIFY, at, note
                    ))  # fmt: skip
                    tally.queued[c.index] += 1
        if not rows:
            return
        ranks = {c.alert_id: SEVERITY_RANKS.get(c.alert.severity, UNRANKED) for c in changes}
        if not inline:
            insert(conn, rows, ranks)
            return
        ids = insert.with_ids(conn, rows, ranks)
        for c, channel, target, note in inline:
            delivery_id = ids.get((c.id, target.channel, target.recipient, _NOTIFY))
            if delivery_id is not None:  # None: already there (never, for a new change)
                message = self._message(delivery_id, c, target, note)
                tally.sends.append((c.id, _sender(channel, message, c.index)))

    def _message(
        self, delivery_id: int, c: StateChange, target: Target, note: str | None
    ) -> Message:
        """What the worker would make of the delivery, from the copy just recorded."""
        a = c.alert
        return Message(
            delivery_id=delivery_id, channel=target.channel, recipient=target.recipient,
            purpose=_NOTIFY, status=c.status, alertname=a.alertname, severity=a.severity,
            labels=a.labels, annotations=a.annotations, generator_url=a.generatorURL,
            starts_at=a.startsAt.isoformat(), links=self.links, note=note, alert_id=c.alert_id,
        )  # fmt: skip


def _sender(channel: Channel, message: Message, index: int) -> Callable[[Connection, Tally], None]:
    def send(conn: Connection, tally: Tally) -> None:
        try:
            channel.providers[0].send(message)
        except Exception:
            logger.exception(
                "delivery %s on %s: sending with the recording failed; left to the worker",
                message.delivery_id, channel.name,
            )  # fmt: skip
            conn.execute(_TO_THE_WORKER, {"b_id": message.delivery_id})
            tally.count_stored(index, channel.name, -1)
            tally.queued[index] += 1

    return send
