"""Incidents and deliveries under /api: list them, acknowledge one."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from alert_webhook.store import StoreUnavailable

bp = Blueprint("incidents", __name__, url_prefix="/api")


def _authorized(expected: str | None) -> bool:
    if expected is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


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
    if raw is not None and not raw.isdigit():
        return jsonify({"error": "alert_id: must be a whole number"}), 400
    try:
        rows = current_app.extensions["alert_webhook"].store.outbox.list(
            alert_id=int(raw) if raw else None
        )
    except StoreUnavailable:
        return jsonify({"error": "store unavailable; retry later"}), 503
    return jsonify({"deliveries": rows})


@bp.post("/incidents/<int:alert_id>/ack")
def acknowledge(alert_id: int) -> Any:
    """Stops deadline escalation and reminders. The dashboard posts a form here."""
    ctx = current_app.extensions["alert_webhook"]
    if not _authorized(ctx.token):
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
