"""The web page: what is firing, incidents to acknowledge, remediation runs (to
approve or reject when they wait for an operator), messages, channel health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template

from alert_webhook.api.auth import current_operator, page_viewer_required
from alert_webhook.context import ctx
from alert_webhook.dashboard import times
from alert_webhook.dashboard.timeline import timeline
from alert_webhook.safe_links import followable
from alert_webhook.store import StoreUnavailable
from alert_webhook.store.console import Console

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)
bp.add_app_template_test(followable, "followable")


@bp.app_template_filter("utc")
def utc(epoch: float | None) -> str:
    """Epoch seconds as people read them on the page."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# Silence durations the console offers (minutes); the action takes 1..10080.
SILENCE_CHOICES = ((30, "30 min"), (60, "1 h"), (240, "4 h"), (1440, "1 d"), (10080, "7 d"))


def console_context() -> dict[str, Any]:
    """Everything the console shows, read once; the page and `GET /api/console`
    render the same fragment from it."""
    app = ctx()
    now = app.clock()
    try:
        records = app.store.list_alerts(limit=200)
        grouped = Console(app.store.tx).incidents()
        messages = app.store.outbox.list(limit=500)
        runs = app.store.remediations.list(limit=50)
        store_ok = True
    except StoreUnavailable:
        records, grouped, messages, runs, store_ok = [], [], [], [], False
    unconfigured = {
        c.name: c.problem or "not configured" for c in app.channels.values() if not c.configured
    }
    names = {r.id: r.alertname for r in records}
    return {
        "now": now,
        "records": records,
        "firing": [r for r in records if r.status == "firing"],
        "store_ok": store_ok,
        "links": app.links,
        "incidents": [(i, timeline(i, messages, unconfigured)) for i in grouped],
        "messages": messages[:100],
        "runs": runs,
        "names": names,
        "channels": app.channels.values(),
        "breakers": {name: b.state for name, b in app.breakers.items()},
        "operator": current_operator(),
        "silence_choices": SILENCE_CHOICES,
        "ago": times.ago,
        "duration": times.duration,
        "deadline": times.deadline,
        "iso": times.iso,
    }


@bp.get("/")
@page_viewer_required
def index() -> Any:
    return render_template("index.html", **console_context())
