"""JSON API under /api."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from alert_webhook.web.auth import viewer_required
from alert_webhook.web.context import ctx
from alert_webhook.web.ids import whole_number

bp = Blueprint("api", __name__, url_prefix="/api")

STATUSES = ("firing", "resolved")
MAX_LIMIT = 1000


@bp.get("/alerts")
@viewer_required
def list_alerts() -> Any:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        return jsonify({"error": f"status: must be one of {', '.join(STATUSES)}"}), 400
    limit = whole_number(request.args.get("limit", "100"), 1, MAX_LIMIT)
    if limit is None:
        return jsonify({"error": f"limit: must be a whole number from 1 to {MAX_LIMIT}"}), 400
    records = ctx().store.list_alerts(status=status, limit=limit)
    return jsonify({"alerts": [record.to_json() for record in records]})
