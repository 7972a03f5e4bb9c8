"""`POST /alerts`: Alertmanager's webhook receiver.

2xx only once the notification is committed; 400 for bad input (Alertmanager
does not retry 4xx); 503 when our store is unavailable (it retries 5xx).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from alert_webhook.api.auth import bearer_ok
from alert_webhook.payload import PayloadError, parse_notification
from alert_webhook.store import Incoming, StoreUnavailable

bp = Blueprint("ingest", __name__)


def _error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


@bp.post("/alerts")
def receive_alerts() -> Any:
    ctx = current_app.extensions["alert_webhook"]
    metrics = ctx.metrics
    if not bearer_ok(ctx.token):
        metrics.notifications_received.labels("rejected").inc()
        return _error(401, "missing or wrong bearer token in the Authorization header")
    body = request.get_data(cache=False)
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        metrics.notifications_received.labels("rejected").inc()
        return _error(400, "invalid Alertmanager notification", problems=exc.problems)
    received_at = ctx.clock()
    try:
        # The group commit writes it with whatever else arrived meanwhile.
        result = ctx.writer.record(Incoming(notification, body, received_at))
    except StoreUnavailable:
        current_app.logger.warning("store unavailable; answering 503 so Alertmanager retries")
        metrics.notifications_received.labels("unavailable").inc()
        return _error(503, "store unavailable; retry later")
    metrics.notifications_received.labels("stored").inc()
    if result.stored_deliveries:
        metrics.count_stored(result.stored_deliveries, ctx.clock() - received_at)
    if result.queued_deliveries:
        ctx.workers.wake()
    for status, count in Counter(a.status for a in notification.alerts).items():
        metrics.alerts_received.labels(status).inc(count)
    return jsonify(
        {
            "status": "stored",
            "notification_id": result.notification_id,
            "alerts": result.alerts,
            "state_changes": result.state_changes,
        }
    )
