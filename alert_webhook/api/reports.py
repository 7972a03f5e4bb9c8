"""The post-incident report of a closed incident under /api: `GET
/api/incidents/<id>/report` answers it in Markdown (any alert of the incident
names it); `POST /api/incidents/<id>/follow-ups` adds a follow-up note — an
operator's form from the report page (with the session's CSRF token, answered
with a 303 back to the page) or JSON with the bearer token (answered with JSON).
An open incident has no report yet: 409, saying so; an unknown id 404.

`GET /api/reports/noise?since=7d` answers the noise report (reports/noise.py)
of the window that ends now, as JSON; a `since` that is not a duration is a
400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from alert_webhook.api.incidents import form_field, refused
from alert_webhook.incidents.follow_ups import MAX_NOTE
from alert_webhook.reports.markdown import write
from alert_webhook.reports.noise import DEFAULT_SINCE, BadSince, parse_since
from alert_webhook.reports.report import NoReport, closed_record
from alert_webhook.text import one_line
from alert_webhook.web.auth import acting, action_required, viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("reports", __name__, url_prefix="/api")
MARKDOWN = "text/markdown; charset=utf-8"


def unconfigured() -> dict[str, str]:
    """Channels that cannot send, with why: a delivery skipped there reached nobody."""
    return {c.name: c.problem or "not configured" for c in ctx().channels.values()
            if not c.configured}  # fmt: skip


@bp.get("/incidents/<int:alert_id>/report")
@viewer_required
def report(alert_id: int) -> Any:
    found = closed_record(ctx().store.reports.record(alert_id), alert_id)
    if isinstance(found, NoReport):
        return jsonify({"error": found.problem}), found.status
    return Response(write(found, unconfigured()), 200, {"Content-Type": MARKDOWN})


@bp.post("/incidents/<int:alert_id>/follow-ups")
@action_required
def add_follow_up(alert_id: int) -> Any:
    """A note (required, one line, at most MAX_NOTE characters) on what to change
    so the incident does not happen again; kept with the incident, in its report."""
    raw = form_field("note")
    note = one_line(raw).strip() if isinstance(raw, str) else ""
    if not note:
        return refused(400, "note: required: say what should follow from this incident")
    if len(note) > MAX_NOTE:
        return refused(400, f"note: at most {MAX_NOTE} characters (it has {len(note)})")
    app = ctx()
    found = closed_record(app.store.reports.record(alert_id), alert_id)
    if isinstance(found, NoReport):
        return refused(found.status, found.problem)
    added = app.store.follow_ups.add(found.id, note, acting().name, app.clock())
    if acting().on_the_page:
        page = url_for("report_page.page", alert_id=found.id, _anchor="follow-ups")
        return redirect(page, code=303)
    body = {"incident_id": added.incident_id, "id": added.id, "note": added.note,
            "added_by": added.added_by, "added_at": added.added_at}  # fmt: skip
    return jsonify({"status": "added", "follow_up": body}), 201


@bp.get("/reports/noise")
@viewer_required
def noise() -> Any:
    """The noise report of the last `since` (default 7d), worst offender first."""
    try:
        window = parse_since(request.args.get("since", DEFAULT_SINCE))
    except BadSince as exc:
        return jsonify({"error": str(exc)}), 400
    app = ctx()
    now = app.clock()
    return jsonify(app.store.noise.report(now - window, now).to_json())
