"""The web page: what is firing, incidents to acknowledge, remediation runs (to
approve or reject when they wait for an operator), messages, channel health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template

from alert_webhook.api.auth import current_operator, page_viewer_required
from alert_webhook.context import ctx
from alert_webhook.safe_links import followable
from alert_webhook.store import StoreUnavailable

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


@bp.get("/")
@page_viewer_required
def index() -> Any:
    app = ctx()
    try:
        records = app.store.list_alerts(limit=200)
        incidents = [i for i in app.store.incidents.list(limit=100) if i["closed_at"] is None]
        messages = app.store.outbox.list(limit=100)
        runs = app.store.remediations.list(limit=50)
        store_ok = True
    except StoreUnavailable:
        records, incidents, messages, runs, store_ok = [], [], [], [], False
    firing = [r for r in records if r.status == "firing"]
    names = {r.id: r.alertname for r in records}
    breakers = {name: b.state for name, b in app.breakers.items()}
    return render_template(
        "index.html",
        records=records,
        firing=firing,
        store_ok=store_ok,
        links=app.links,
        incidents=incidents,
        messages=messages,
        runs=runs,
        names=names,
        channels=app.channels.values(),
        breakers=breakers,
        operator=current_operator(),
    )
