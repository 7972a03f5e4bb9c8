"""Recovery drills under /api: `POST /api/drills` records one drill whole (every
scenario's result in one transaction, or nothing), with the bearer token only —
the stack's `python -m stack drill` posts it, no operator form does;
`GET /api/drills` lists the newest drills with their results,
`GET /api/drills/scenarios` each scenario's newest run and success."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from alert_webhook.drills.record import ReportError, parse_report
from alert_webhook.web.auth import bearer_required, viewer_required
from alert_webhook.web.context import ctx
from alert_webhook.web.guard import json_refusal

bp = Blueprint("drills", __name__, url_prefix="/api")
MAX_LIMIT = 500


@bp.post("/drills")
@bearer_required()
def record() -> Any:
    if (refusal := json_refusal()) is not None:
        return refusal
    try:
        report = parse_report(request.get_json(silent=True))
    except ReportError as exc:
        return jsonify({"error": "invalid drill report", "problems": exc.problems}), 400
    app = ctx()
    drill_id = app.store.drills.add(report, app.clock())
    return jsonify({"status": "recorded", "id": drill_id, "ok": report.ok}), 201


@bp.get("/drills")
@viewer_required
def list_drills() -> Any:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        return jsonify({"error": f"limit: a whole number from 1 to {MAX_LIMIT}"}), 400
    found = ctx().store.drills.recent(int(raw))
    return jsonify({"drills": [d.to_json() for d in found]})


@bp.get("/drills/scenarios")
@viewer_required
def scenarios() -> Any:
    """Each scenario over all its drills: newest run and result, newest success
    and its recovery time, counts (what the metrics and the scheduler read)."""
    return jsonify({"scenarios": [s.__dict__ for s in ctx().store.drills.summaries()]})
