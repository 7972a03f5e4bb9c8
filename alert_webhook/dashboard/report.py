"""The post-incident report as a page, `/incidents/<id>/report`: the same
Markdown `GET /api/incidents/<id>/report` answers, shown as plain text in a
<pre> (autoescaped: no Markdown renderer, so nothing in it becomes markup or a
link), the runbook and graph links the report names, and the follow-up form
(a logged-in operator, with the session's CSRF token). A page in words for an
unknown id (404) and an incident still open (409)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from alert_webhook.incidents.follow_ups import MAX_NOTE
from alert_webhook.reports.markdown import write
from alert_webhook.reports.report import NoReport, closed_record
from alert_webhook.web.auth import current_operator, page_viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("report_page", __name__, template_folder="templates")


@bp.get("/incidents/<int:alert_id>/report")
@page_viewer_required
def page(alert_id: int) -> Any:
    app = ctx()
    found = closed_record(app.store.reports.record(alert_id), alert_id)
    common = {"operator": current_operator(), "alert_id": alert_id, "here": request.path}
    if isinstance(found, NoReport):
        return render_template("report.html", problem=found.problem, **common), found.status
    unconfigured = {c.name: c.problem or "not configured" for c in app.channels.values()
                    if not c.configured}  # fmt: skip
    return render_template(
        "report.html", record=found, markdown=write(found, unconfigured), max_note=MAX_NOTE,
        **common,
    )  # fmt: skip
