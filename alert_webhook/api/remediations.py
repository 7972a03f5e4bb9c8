"""Remediation under /api: the runs on record, and what a payload would set off."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from alert_webhook.api.auth import action_required, viewer_required
from alert_webhook.api.guard import json_refusal
from alert_webhook.context import ctx
from alert_webhook.payload import PayloadError, parse_notification
from alert_webhook.remediation.plan import plan_alert

bp = Blueprint("remediations", __name__, url_prefix="/api")


@bp.get("/remediations")
@viewer_required
def list_runs() -> Any:
    """Newest runs first, each with its steps: rendered inputs, exit or HTTP status,
    output tail, duration, outcome."""
    app = ctx()
    runs = app.store.remediations.list()
    return jsonify({"enabled": app.remediation is not None, "remediations": runs})


@bp.post("/plan")
@action_required
def plan() -> Any:
    """An Alertmanager payload in; what each alert would set off out. Runs nothing,
    stores nothing. An action, not a read: its answer shows the playbooks'
    commands and URLs as the labels fill them in."""
    app = ctx()
    if app.remediation is None:
        return jsonify({"error": "remediation is not enabled (remediation.enabled)"}), 409
    if (refusal := json_refusal()) is not None:
        return refusal
    try:
        notification = parse_notification(request.get_data(cache=False))
    except PayloadError as exc:
        return jsonify(
            {"error": "invalid Alertmanager notification", "problems": exc.problems}
        ), 400
    history = app.remediation.history(app.store.remediations, app.clock())
    alerts = [plan_alert(app.remediation, alert, history) for alert in notification.alerts]
    return jsonify({"alerts": alerts})
