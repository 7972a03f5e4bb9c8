"""Incidents and deliveries under /api: list them, acknowledge one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, request, url_for

from alert_webhook.api.auth import acting, action_required, viewer_required
from alert_webhook.api.ids import MAX_ID, whole_number
from alert_webhook.context import ctx

bp = Blueprint("incidents", __name__, url_prefix="/api")


@bp.get("/incidents")
@viewer_required
def list_incidents() -> Any:
    return jsonify({"incidents": ctx().store.incidents.list()})


@bp.get("/deliveries")
@viewer_required
def list_deliveries() -> Any:
    raw = request.args.get("alert_id")
    alert_id = None if raw is None else whole_number(raw, 1, MAX_ID)
    if raw is not None and alert_id is None:
        return jsonify({"error": f"alert_id: must be a whole number from 1 to {MAX_ID}"}), 400
    rows = ctx().store.outbox.list(alert_id=alert_id)
    return jsonify({"deliveries": rows})


@bp.post("/incidents/<int:alert_id>/ack")
@action_required
def acknowledge(alert_id: int) -> Any:
    """Stops deadline escalation and reminders. The dashboard posts a form here
    (a logged-in operator, with the session's CSRF token); scripts post JSON
    with the bearer token and may say `by`."""
    app = ctx()
    actor = acting()
    data = request.get_json(silent=True) if request.is_json else None
    by = actor.acked_by(data.get("by") if isinstance(data, dict) else None)
    incident = app.store.incidents.ack(alert_id, by, app.clock())
    if incident is None:
        return jsonify({"error": f"no incident {alert_id}"}), 404
    if actor.operator is not None and not request.is_json:
        return redirect(url_for("dashboard.index"), code=303)
    return jsonify({"status": "acknowledged", "incident": incident})
