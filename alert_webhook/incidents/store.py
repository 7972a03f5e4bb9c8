"""Incidents: acknowledgement, response deadlines, reminders, operators' silences
and resolve-as-handled (portable SQL).

Each follow-up (a tier raised, a reminder) is one transaction: the guarded
UPDATE that says "this replica does it", the deliveries it sends and the flag it
leaves. A replica that loses the race writes nothing. An incident is followed up
while it is open, unacknowledged and not silenced (a silence holds until its
`silenced_until`); closing it as handled ends that as a resolution does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.engine import Connection, Dialect

from alert_webhook.db.schema import alert_events, alerts, deliveries, incidents
from alert_webhook.db.transactions import Transactions
from alert_webhook.delivery.outbox import Failover, delivery_insert, flag_incident, routed_channels
from alert_webhook.delivery.routing import Target
from alert_webhook.delivery.rows import DeliveryStatus, NewDelivery, Purpose


@dataclass(frozen=True)
class OpenIncident:
    alert_id: int
    event_id: int
    severity: str
    opened_at: float
    tier: int
    labels: dict[str, str]


@dataclass(frozen=True)
class Handled:
    """What resolve-as-handled did: `incident` is None when there is none, `taken`
    False when it was already closed (then the record shows how)."""

    incident: dict[str, Any] | None
    taken: bool


@dataclass(frozen=True)
class HeldSilence:
    """An operator's silence on an alert that is firing as far as the store knows:
    while it holds, Alertmanager tells the webhook nothing of that alert."""

    alert_id: int
    silence_id: str
    silenced_until: float
    fingerprint: str
    starts_at: str
    generator_url: str
    labels: dict[str, str]
    annotations: dict[str, str]


def _shown() -> Select[Any]:
    """An incident as the API shows it: its row, its alert's name, state and labels."""
    return select(
        incidents, alerts.c.alertname, alerts.c.status, alerts.c.fingerprint, alerts.c.labels
    ).join(alerts, alerts.c.id == incidents.c.alert_id)


def _as_dict(row: Any) -> dict[str, Any]:
    shown = dict(row)
    shown["labels"] = json.loads(shown["labels"])
    return shown


def _missing(conn: Connection, ids: Sequence[int]) -> bool:
    """Whether one of the alerts `ids` has no incident."""
    found = conn.execute(
        select(func.count()).select_from(incidents).where(incidents.c.alert_id.in_(ids))
    ).scalar()
    return found != len(ids)


def _find(conn: Connection, alert_id: int) -> dict[str, Any] | None:
    row = conn.execute(_shown().where(incidents.c.alert_id == alert_id)).mappings().first()
    return _as_dict(row) if row else None


class Incidents:
    def __init__(self, tx: Transactions, dialect: Dialect) -> None:
        self.tx = tx
        self._insert = delivery_insert(dialect)

    def _open(self, now: float, *where: Any) -> list[OpenIncident]:
        query = (
            select(incidents, alert_events.c.id.label("event_id"), alerts.c.labels)
            .join(alerts, alerts.c.id == incidents.c.alert_id)
            .join(
                alert_events,
                (alert_events.c.alert_id == incidents.c.alert_id)
                & (alert_events.c.status == "firing"),
            )
            .where(
                incidents.c.closed_at.is_(None),
                incidents.c.acked_at.is_(None),
                or_(incidents.c.silenced_until.is_(None), incidents.c.silenced_until <= now),
                *where,
            )
        )
        with self.tx.read() as conn:
            return [
                OpenIncident(
                    r.alert_id, r.event_id, r.severity, r.opened_at, r.tier, json.loads(r.labels)
                )
                for r in conn.execute(query)
            ]

    def past_deadline(self, now: float, tier: int) -> list[OpenIncident]:
        return self._open(now, incidents.c.deadline_at <= now, incidents.c.tier == tier)

    def unacknowledged(self, severity: str, now: float) -> list[OpenIncident]:
        return self._open(now, incidents.c.severity == severity)

    def escalate(
        self, incident: OpenIncident, next_deadline: float, flag: str, failover: Failover
    ) -> bool:
        """Move the incident to the next tier once, sending the deliveries `failover`
        picks from the channels its alert was routed to; False if another replica
        already did."""
        with self.tx.write() as conn:
            raised = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == incident.alert_id, incidents.c.tier == incident.tier)
                .values(tier=incident.tier + 1, deadline_at=next_deadline)
            )
            if raised.rowcount != 1:
                return False
            rows = failover(routed_channels(conn, incident.alert_id))
            if rows:
                self._insert(conn, rows)
            flag_incident(conn, incident.alert_id, flag)
            return True

    def remind(
        self,
        incident: OpenIncident,
        n: int,
        deliveries_to: Callable[[list[Target]], list[NewDelivery]],
    ) -> bool:
        """Send reminder `n` once, through `deliveries_to(where the firing message was
        delivered)`; False if it (or a later one) was already sent."""
        with self.tx.write() as conn:
            counted = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == incident.alert_id, incidents.c.reminders < n)
                .values(reminders=n)
            )
            if counted.rowcount != 1:
                return False
            reached = conn.execute(
                select(deliveries.c.channel, deliveries.c.recipient)
                .where(
                    deliveries.c.alert_id == incident.alert_id,
                    deliveries.c.event_status == "firing",
                    deliveries.c.purpose == Purpose.NOTIFY,
                    deliveries.c.status == DeliveryStatus.DELIVERED,
                )
                .order_by(deliveries.c.id)
            )
            rows = deliveries_to([Target(r.channel, r.recipient) for r in reached])
            if rows:
                self._insert(conn, rows)
            return True

    def ack(
        self, alert_id: int, by: str, now: float, also: Sequence[int] = ()
    ) -> dict[str, Any] | None:
        """Acknowledge alert `alert_id`'s incident, and those of the alerts `also`
        names (the other alerts of the console's incident, as the operator saw
        them): the acknowledgement covers these, not an alert that fires later.
        None when one of them has no incident (then nothing is written).
        Idempotent: a first acknowledgement stands."""
        ids = sorted({alert_id, *also})
        with self.tx.write() as conn:
            if _missing(conn, ids):
                return None
            conn.execute(
                update(incidents)
                .where(incidents.c.alert_id.in_(ids), incidents.c.acked_at.is_(None))
                .values(acked_at=now, acked_by=by)
            )
            return _find(conn, alert_id)

    def ack_open(self, alert_id: int, by: str, now: float) -> bool:
        """Acknowledge alert `alert_id`'s incident while nobody has and it is still
        open, in one statement (an incident that closes meanwhile stays as it
        closed); True when this call recorded it. For an acknowledge link, which
        is followed hours later: a closed incident has nothing left to stop."""
        with self.tx.write() as conn:
            done = conn.execute(
                update(incidents)
                .where(
                    incidents.c.alert_id == alert_id,
                    incidents.c.acked_at.is_(None),
                    incidents.c.closed_at.is_(None),
                )
                .values(acked_at=now, acked_by=by)
            )
            return bool(done.rowcount)

    def resolve_handled(
        self, alert_id: int, by: str, note: str, now: float, also: Sequence[int] = ()
    ) -> Handled:
        """Close an open incident as handled by `by`, saying how, with the open ones
        of the alerts `also` names; the first close stands (a second operator, or
        Alertmanager's resolution, changes nothing). `taken` says whether
        `alert_id`'s was closed now; with an alert of `also` that has no incident,
        nothing is closed and `incident` is None."""
        ids = sorted({alert_id, *also})
        with self.tx.write() as conn:
            if _missing(conn, ids):
                return Handled(None, False)
            closed = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == alert_id, incidents.c.closed_at.is_(None))
                .values(closed_at=now, handled_at=now, handled_by=by, handled_note=note)
            )
            taken = closed.rowcount == 1
            if taken and len(ids) > 1:
                conn.execute(
                    update(incidents)
                    .where(incidents.c.alert_id.in_(ids), incidents.c.closed_at.is_(None))
                    .values(closed_at=now, handled_at=now, handled_by=by, handled_note=note)
                )
            return Handled(_find(conn, alert_id), taken)

    def record_silence(
        self, alert_id: int, silence_id: str, until: float, by: str
    ) -> dict[str, Any] | None:
        """Note the silence an operator created; None (nothing written) when the
        incident is gone or closed, so its silence should be expired again."""
        with self.tx.write() as conn:
            held = conn.execute(
                update(incidents)
                .where(incidents.c.alert_id == alert_id, incidents.c.closed_at.is_(None))
                .values(silence_id=silence_id, silenced_until=until, silenced_by=by)
            )
            return _find(conn, alert_id) if held.rowcount == 1 else None

    def held_silences(self, now: float) -> list[HeldSilence]:
        """Silences still holding on alerts the store has as firing: the alerts
        whose resolution only Alertmanager's API can tell."""
        columns = [incidents.c[name] for name in ("alert_id", "silence_id", "silenced_until")]
        columns += [alerts.c[name] for name in ("fingerprint", "starts_at", "generator_url")]
        query = (
            select(*columns, alerts.c.labels, alerts.c.annotations)
            .join(alerts, alerts.c.id == incidents.c.alert_id)
            .where(
                incidents.c.silence_id.is_not(None),
                incidents.c.silenced_until > now,
                alerts.c.status == "firing",
            )
            .order_by(incidents.c.alert_id)
        )
        with self.tx.read() as conn:
            return [
                HeldSilence(
                    **{c.name: row[c.name] for c in columns},
                    labels=json.loads(row["labels"]),
                    annotations=json.loads(row["annotations"]),
                )
                for row in conn.execute(query).mappings()
            ]

    def silence_expired(self, alert_id: int, silence_id: str, now: float) -> None:
        """The silence ended early (expired at `now`): it no longer holds."""
        with self.tx.write() as conn:
            conn.execute(
                update(incidents)
                .where(
                    incidents.c.alert_id == alert_id,
                    incidents.c.silence_id == silence_id,
                    incidents.c.silenced_until > now,
                )
                .values(silenced_until=now)
            )

    def find(self, alert_id: int) -> dict[str, Any] | None:
        """One incident as `list()` shows it, or None."""
        with self.tx.read() as conn:
            return _find(conn, alert_id)

    def list(self, limit: int = 200, open_only: bool = False) -> list[dict[str, Any]]:
        """Newest first, with each alert's name, state and labels; `open_only`:
        those not closed (by a resolution or as handled)."""
        query = _shown().order_by(incidents.c.opened_at.desc()).limit(limit)
        if open_only:
            query = query.where(incidents.c.closed_at.is_(None))
        with self.tx.read() as conn:
            return [_as_dict(r) for r in conn.execute(query).mappings()]
