"""Liveness and readiness. `/metrics` is served by `exporters.instrumentation`
(see `create_app`): the webhook's registry with the request metrics in it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from alert_webhook.web.context import ctx

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    app = ctx()
    workers = app.workers
    state = "running" if workers.running else ("stopped" if workers.started else "not started")
    # Answers within ping_timeout_seconds whatever the store does (db/ping.py).
    store_ok = app.store.ping(app.settings.store.ping_timeout_seconds)
    channels = {c.name: "ok" if c.configured else c.problem for c in app.channels.values()}
    body = {"store": "ok" if store_ok else "unreachable", "workers": state, "channels": channels}
    if store_ok and state != "stopped":
        return jsonify({"status": "ready", **body})
    return jsonify({"status": "not ready", **body}), 503
