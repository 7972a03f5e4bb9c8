"""The web page: what has fired, what is firing, what resolved."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from alert_webhook.store import StoreUnavailable

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/")
def index() -> Any:
    ctx = current_app.extensions["alert_webhook"]
    try:
        records = ctx.store.list_alerts(limit=200)
        store_ok = True
    except StoreUnavailable:
        records, store_ok = [], False
    firing = [r for r in records if r.status == "firing"]
    return render_template(
        "index.html", records=records, firing=firing, store_ok=store_ok, links=ctx.links
    )
