"""The noise report as a page, `/reports/noise?since=7d`: the tables `GET
/api/reports/noise` answers, worst offender first, each name and figure
autoescaped text (no label value becomes markup or a link). A `since` that is
not a duration is a 400 page naming the parameter."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from alert_webhook.reports.noise import DEFAULT_SINCE, BadSince, parse_since
from alert_webhook.times import duration
from alert_webhook.web.auth import current_operator, page_viewer_required
from alert_webhook.web.context import ctx

bp = Blueprint("noise_page", __name__, template_folder="templates")
# The windows the page offers as links; any other `since` works as well.
WINDOWS = ("1d", "7d", "30d")


@bp.get("/reports/noise")
@page_viewer_required
def page() -> Any:
    since = request.args.get("since", DEFAULT_SINCE)
    common = {"operator": current_operator(), "windows": WINDOWS, "duration": duration}
    try:
        window = parse_since(since)
    except BadSince as exc:
        return render_template("noise.html", problem=str(exc), since=None, **common), 400
    app = ctx()
    now = app.clock()
    report = app.store.noise.report(now - window, now)
    return render_template("noise.html", report=report, since=since.strip(), **common)
