"""The alert instances the store holds as firing that Alertmanager told it of:
what the reconcile duty checks against Alertmanager's own list (portable SQL).

"Told by Alertmanager" is read from the notification that brought the firing
state change: the webhook's own notifications (the watchdog's alarm, the
resolutions its duties record) carry a group key under `OWN_GROUP_KEY_PREFIX`,
which no Alertmanager group key has (Alertmanager's start with the route's
`{…}` matchers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_, select

from alert_webhook.db.schema import alert_events, alerts, incidents, notifications
from alert_webhook.db.transactions import Transactions

OWN_GROUP_KEY_PREFIX = "alert_webhook/"


@dataclass(frozen=True)
class FiringRef:
    """One firing instance, as little of it as the comparison with Alertmanager's
    list needs: the fingerprint and `startsAt` that key it."""

    alert_id: int
    fingerprint: str
    starts_at: str


@dataclass(frozen=True)
class FiringAlert(FiringRef):
    """A firing instance with what a resolved copy of it needs to say."""

    generator_url: str
    labels: dict[str, str]
    annotations: dict[str, str]


# Ids per query when reading whole alerts (far below every engine's bound).
_CHUNK = 500


def firing_from_alertmanager(tx: Transactions, now: float) -> list[FiringRef]:
    """Every instance the store holds as firing whose firing came from Alertmanager,
    oldest first; not those an operator's silence holds at `now` (the silence
    watch asks about those, and expires the silence with the resolution). Only
    the keys: a pass runs every few seconds beside ingest, and thousands of
    alerts may fire, while few are ever missing from Alertmanager's list."""
    query = (
        select(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at)
        .join(
            alert_events,
            (alert_events.c.alert_id == alerts.c.id) & (alert_events.c.status == "firing"),
        )
        .join(notifications, notifications.c.id == alert_events.c.notification_id)
        .outerjoin(incidents, incidents.c.alert_id == alerts.c.id)
        .where(
            alerts.c.status == "firing",
            or_(incidents.c.silenced_until.is_(None), incidents.c.silenced_until <= now),
            ~notifications.c.group_key.startswith(OWN_GROUP_KEY_PREFIX, autoescape=True),
        )
        .order_by(alerts.c.id)
    )
    with tx.read() as conn:
        return [FiringRef(r.id, r.fingerprint, r.starts_at) for r in conn.execute(query)]


def whole(tx: Transactions, refs: list[FiringRef]) -> list[FiringAlert]:
    """The alerts `refs` name, whole, in their order."""
    found: dict[int, FiringAlert] = {}
    ids = [ref.alert_id for ref in refs]
    columns = (alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at, alerts.c.generator_url,
               alerts.c.labels, alerts.c.annotations)  # fmt: skip
    with tx.read() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for r in conn.execute(select(*columns).where(alerts.c.id.in_(chunk))):
                found[r.id] = FiringAlert(
                    r.id, r.fingerprint, r.starts_at, r.generator_url,
                    json.loads(r.labels), json.loads(r.annotations),
                )  # fmt: skip
    return [found[i] for i in ids if i in found]
