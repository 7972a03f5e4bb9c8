"""`POST /alerts`: Alertmanager's webhook receiver.

2xx only once the notification is committed; 400 for bad input (Alertmanager
does not retry 4xx); 503 when our store is unavailable (it retries 5xx).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, jsonify, request

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.ingest.payload import PayloadError, parse_notification
from alert_webhook.web.auth import bearer_required
from alert_webhook.web.context import ctx
from alert_webhook.web.guard import json_refusal

bp = Blueprint("ingest", __name__)


def _count(outcome: str) -> None:
    ctx().metrics.notifications_received.labels(outcome).inc()


@bp.post("/alerts")
@bearer_required(refused=lambda: _count("rejected"))
def receive_alerts() -> Any:
    app = ctx()
    if (refusal := json_refusal()) is not None:
        _count("rejected")
        return refusal
    body = request.get_data(cache=False)
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        _count("rejected")
        return jsonify(
            {"error": "invalid Alertmanager notification", "problems": exc.problems}
        ), 400
    try:
        result = app.intake.accept(notification, body, app.clock())
    except StoreUnavailable:
        _count("unavailable")  # the 503 that makes Alertmanager retry comes from the app
        raise
    _count("stored")
    for status, count in Counter(a.status for a in notification.alerts).items():
        app.metrics.alerts_received.labels(status).inc(count)
    return jsonify(
        {
            "status": "stored",
            "notification_id": result.notification_id,
            "alerts": result.alerts,
            "state_changes": result.state_changes,
            "stale": result.stale,
        }
    )
