"""One incident as an acknowledge link's confirmation page shows it (read-only).

Its own module: the page asks for one incident by its alert, which neither the
console's read model (every incident, grouped) nor the incidents module
(escalation and acknowledgement) has a reason to offer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from alert_webhook.db.schema import alerts, incidents
from alert_webhook.db.transactions import Transactions


@dataclass(frozen=True)
class IncidentBrief:
    alert_id: int
    alertname: str
    severity: str
    status: str  # the alert's: firing | resolved
    labels: dict[str, str]
    summary: str
    acked_at: float | None
    acked_by: str | None
    # Closed: by Alertmanager's resolution, or as handled by an operator (by whom,
    # with their note).
    closed_at: float | None = None
    handled_by: str | None = None
    handled_note: str | None = None


def incident_brief(tx: Transactions, alert_id: int) -> IncidentBrief | None:
    query = (
        select(
            incidents.c.alert_id,
            incidents.c.severity,
            incidents.c.acked_at,
            incidents.c.acked_by,
            incidents.c.closed_at,
            incidents.c.handled_by,
            incidents.c.handled_note,
            alerts.c.alertname,
            alerts.c.status,
            alerts.c.labels,
            alerts.c.annotations,
        )
        .join(alerts, alerts.c.id == incidents.c.alert_id)
        .where(incidents.c.alert_id == alert_id)
    )
    with tx.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    annotations = json.loads(row.annotations)
    return IncidentBrief(
        row.alert_id, row.alertname, row.severity, row.status, json.loads(row.labels),
        str(annotations.get("summary", "")), row.acked_at, row.acked_by,
        row.closed_at, row.handled_by, row.handled_note,
    )  # fmt: skip
