"""Incidents and deliveries under /api: list them, acknowledge one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from alert_webhook.api.auth import bearer_ok, form_ok
from alert_webhook.api.ids import MAX_ID, whole_number
from alert_webhook.store import StoreUnavailable

bp = Blueprint("incidents", __name__, url_prefix="/api")


def ack_action(alert_id: int) -> str:
    """What a dashboard form's token is bound to."""
    return f"ack:{alert_id}"


@bp.get("/incidents")
def list_incidents() -> Any:
    try:
        return jsonify(
            {"incidents": current_app.extensions["alert_webhook"].store.incidents.list()}
        )
    except StoreUnavailable:
        return jsonify({"error": "store unavailable; retry later"}), 503


@bp.get("/deliveries")
def list_deliveries() -> Any:
    raw = request.args.get("alert_id")
    alert_id = None if raw is None else whole_number(raw, 1, MAX_ID)
    if raw is not None and alert_id is None:
        return jsonify({"error": f"alert_id: must be a whole number from 1 to {MAX_ID}"}), 400
    try:
        rows = current_app.extensions["alert_webhook"].store.outbox.list(alert_id=alert_id)
    except StoreUnavailable:
        return jsonify({"error": "store unavailable; retry later"}), 503
    return jsonify({"deliveries": rows})


@bp.post("/incidents/<int:alert_id>/ack")
def acknowledge(alert_id: int) -> Any:
    """Stops deadline escalation and reminders. The dashboard posts a form here
    (with its form token); scripts post JSON with the bearer token."""
    ctx = current_app.extensions["alert_webhook"]
    if request.form:
        if not form_ok(ctx.token, ack_action(alert_id)):
            return jsonify({"error": "form_token: missing or wrong; reload the dashboard"}), 403
    elif not bearer_ok(ctx.token):
        return jsonify({"error": "missing or wrong bearer token in the Authorization header"}), 401
    data = request.get_json(silent=True) if request.is_json else None
    by = (data or {}).get("by") if isinstance(data, dict) else request.form.get("by")
    by = str(by or "dashboard")[:200]
    try:
        incident = ctx.store.incidents.ack(alert_id, by, ctx.clock())
    except StoreUnavailable:
        return jsonify({"error": "store unavailable; retry later"}), 503
    if incident is None:
        return jsonify({"error": f"no incident {alert_id}"}), 404
    if request.form:
        return redirect(url_for("dashboard.index"), code=303)
    return jsonify({"status": "acknowledged", "incident": incident})
