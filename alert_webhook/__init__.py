"""The alert webhook: receives Alertmanager notifications, stores and shows them.

`create_app(settings)` is the one factory; it reads no environment itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from alert_webhook.metrics import WebhookMetrics, create_metrics
from alert_webhook.routing import Planner, planner_from
from alert_webhook.settings import LinkSettings, Settings
from alert_webhook.store import SqlStore, open_store


@dataclass
class AppContext:
    """What the blueprints share, kept in `app.extensions["alert_webhook"]`."""

    settings: Settings
    store: SqlStore
    metrics: WebhookMetrics
    clock: Callable[[], float]
    planner: Planner

    @property
    def token(self) -> str | None:
        return self.settings.token.get_secret_value() if self.settings.token else None

    @property
    def links(self) -> LinkSettings:
        return self.settings.links


def create_app(
    settings: Settings,
    *,
    store: SqlStore | None = None,
    metrics: WebhookMetrics | None = None,
    clock: Callable[[], float] = time.time,
) -> Flask:
    from alert_webhook import dashboard
    from alert_webhook.api import alerts, health, ingest

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if store is None:
        store = open_store(settings.store.url)
        store.create_schema()
    app.extensions["alert_webhook"] = AppContext(
        settings=settings,
        store=store,
        metrics=metrics or create_metrics(),
        clock=clock,
        planner=planner_from(settings),
    )
    for blueprint in (ingest.bp, health.bp, alerts.bp, dashboard.bp):
        app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Every HTTP error is JSON naming the problem, never an HTML trace.
        return jsonify({"error": exc.description or exc.name}), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error")
        return jsonify({"error": "internal error; see the webhook's log"}), 500

    return app
