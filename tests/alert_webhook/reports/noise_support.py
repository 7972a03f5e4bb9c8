"""A hand-built store for the noise report's tests: alerts fired and resolved
through the real recording path (incidents, deliveries, remediation runs
planned), then acknowledged, handled, delivered, run and flapped by hand at
chosen times on a fake clock."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from webhook_support import CONTACTS, make_alert, make_notification

from alert_webhook.app.wiring import recording_from
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.db.schema import alert_events, alerts, deliveries, flapping
from alert_webhook.ingest.payload import parse_notification
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from alert_webhook.remediation.run_notices import Ended, Telling
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.remediation.states import RunStatus
from alert_webhook.store import SqlStore

HOUR, DAY = 3600.0, 86400.0
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()
PLAYBOOKS = playbooks_from_mapping(
    {
        "playbooks": [
            {
                "name": "restart-demo",
                "match": {"alertname": "DemoServiceDown"},
                "target": ["service", "instance"],
                "actions": [
                    {"action": "run_command", "params": {"argv": [sys.executable, "-c", "1"]}},
                ],
            },
        ]
    }
)
RECORDING = recording_from(
    settings_from_mapping(CONTACTS, {}),
    ["dashboard"],
    extra=[RemediationPlanner(PLAYBOOKS, lambda ended, now: Telling())],
)


def at(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat().replace("+00:00", "Z")


def _record(store: SqlStore, alert: dict[str, Any], now: float) -> None:
    body = json.dumps(make_notification(alert)).encode()
    store.record_notification(parse_notification(body), body, T0 + now, RECORDING)


def alert_id(store: SqlStore, fingerprint: str) -> int:
    return store.list_alerts(fingerprint=fingerprint, limit=1)[0].id


def fire(store: SqlStore, fp: str, now: float, **labels: str) -> int:
    """Record alert `fp` firing at T0 + now; its id."""
    _record(store, make_alert(fp, starts_at=at(now), **labels), now)
    return alert_id(store, fp)


def resolve(store: SqlStore, fp: str, fired: float, now: float, **labels: str) -> None:
    _record(store, make_alert(fp, status="resolved", starts_at=at(fired), **labels), now)


def deliver(store: SqlStore, alert: int) -> int:
    """Mark every message of the alert delivered (as a worker would); how many."""
    with store.tx.write() as conn:
        return conn.execute(
            update(deliveries)
            .where(deliveries.c.alert_id == alert)
            .values(status="delivered", finished_at=deliveries.c.received_at)
        ).rowcount  # fmt: skip


def end_run(store: SqlStore, now: float, status: RunStatus) -> None:
    """Claim the next planned run and end it with `status`."""
    [job] = store.runs.claim(T0 + now, "w", lease=30, limit=1)

    def silent(ended: Ended, when: float) -> Telling:
        return Telling()

    if status not in (RunStatus.BLOCKED, RunStatus.SKIPPED):
        assert store.runs.start(job, T0 + now, T0 + now + 30)
    assert store.runs.finish(job, status, T0 + now, silent)


def flap(store: SqlStore, alert: int, now: float) -> None:
    """A flapping episode of the alert begun at T0 + now (its firing event)."""
    with store.tx.write() as conn:
        row = conn.execute(
            select(alerts.c.fingerprint, alerts.c.alertname, alert_events.c.id)
            .join(alert_events, alert_events.c.alert_id == alerts.c.id)
            .where(alerts.c.id == alert)
        ).first()  # fmt: skip
        assert row is not None
        conn.execute(
            flapping.insert().values(
                fingerprint=row[0], alertname=row[1], started_at=T0 + now,
                started_event_id=row[2], changes=5, last_change_at=T0 + now,
                last_status="firing", last_alert_id=alert, last_event_id=row[2],
                ended_at=T0 + now + 60,
            )
        )  # fmt: skip
