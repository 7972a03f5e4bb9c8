"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    ctx = current_app.extensions["alert_webhook"]
    if ctx.store.ping():
        return jsonify({"status": "ready", "store": "ok"})
    return jsonify({"status": "not ready", "store": "unreachable"}), 503


@bp.get("/metrics")
def metrics() -> Response:
    ctx = current_app.extensions["alert_webhook"]
    return Response(generate_latest(ctx.metrics.registry), mimetype=CONTENT_TYPE_LATEST)
