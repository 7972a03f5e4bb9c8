"""Remediation under /api: the runs on record, the preview of what a payload
would set off (`POST /api/plan`), and an operator's answer to a run awaiting
approval."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, request, url_for

from alert_webhook.clients.alertmanager import rfc3339
from alert_webhook.ingest.payload import PayloadError, parse_notification
from alert_webhook.remediation.preview import preview_alert
from alert_webhook.remediation.runner import REMEDIATION_LOOP
from alert_webhook.remediation.states import Approval
from alert_webhook.text import one_line
from alert_webhook.web.auth import acting, action_required, viewer_required
from alert_webhook.web.context import ctx
from alert_webhook.web.guard import json_refusal

MAX_REASON = 500

bp = Blueprint("remediations", __name__, url_prefix="/api")


@bp.get("/remediations")
@viewer_required
def list_runs() -> Any:
    """Newest runs first, each with its steps: rendered inputs, exit or HTTP status,
    output tail, duration, outcome."""
    app = ctx()
    runs = app.store.runs.list()
    return jsonify({"enabled": app.remediation is not None, "remediations": runs})


@bp.post("/plan")
@action_required
def preview() -> Any:
    """The preview: an Alertmanager payload in; what each alert would set off
    out. Runs nothing, stores nothing. An action, not a read: its answer shows
    the playbooks' commands and URLs as the labels fill them in."""
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
    history = app.remediation.history(app.store.runs, app.clock())
    alerts = [preview_alert(app.remediation, alert, history) for alert in notification.alerts]
    return jsonify({"alerts": alerts})


@bp.post("/remediations/<int:run_id>/approve")
@action_required
def approve(run_id: int) -> Any:
    """Let a run awaiting approval act: the runner judges its guardrails again and
    acts. The dashboard posts a form (an operator, with the CSRF token); scripts
    post with the bearer token."""
    return _answer(run_id, Approval.APPROVED, None)


@bp.post("/remediations/<int:run_id>/reject")
@action_required
def reject(run_id: int) -> Any:
    """End a run awaiting approval without acting; `reason` (JSON or form) is required."""
    reason = _reason()
    if not reason:
        return jsonify({"error": "reason: say why the run is rejected"}), 400
    return _answer(run_id, Approval.REJECTED, reason)


def _reason() -> str:
    if request.is_json:
        data = request.get_json(silent=True)
        raw = data.get("reason") if isinstance(data, dict) else None
    else:
        raw = request.form.get("reason")
    return one_line(raw).strip()[:MAX_REASON] if isinstance(raw, str) else ""


def _answer(run_id: int, verdict: Approval, reason: str | None) -> Any:
    app = ctx()
    if app.remediation is None:
        return jsonify({"error": "remediation is not enabled (remediation.enabled)"}), 409
    actor = acting()
    by = actor.name
    now = app.clock()
    decided = app.store.runs.answer(run_id, verdict, by, now, reason)
    if decided.run is None:
        return jsonify({"error": f"no remediation run {run_id}"}), 404
    if not decided.taken:
        return jsonify({"error": not_awaiting(decided.run, now), "remediation": decided.run}), 409
    app.workers.wake(REMEDIATION_LOOP)
    if actor.operator is not None and not request.is_json:
        return redirect(url_for("dashboard.index"), code=303)
    return jsonify({"status": verdict.value, "remediation": decided.run})


def not_awaiting(run: dict[str, Any], now: float) -> str:
    """Why a run cannot be approved or rejected (any more)."""
    which, state = f"remediation run {run['id']}", run["approval"]
    if state in (Approval.APPROVED, Approval.REJECTED):
        return f"{which} was already {state} by {run['approval_by']}"
    deadline = run["approval_deadline"]
    if state == Approval.TIMED_OUT or (state == Approval.AWAITING and deadline <= now):
        when = rfc3339(deadline)
        return f"{which} is past its approval deadline ({when}): nobody approved it in time"
    return f"{which} is not awaiting approval (it is {run['status']})"
