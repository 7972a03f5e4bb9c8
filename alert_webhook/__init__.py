"""The alert webhook: receives Alertmanager notifications, stores and shows them.

`create_app(settings)` is the one factory; it reads no environment itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from alert_webhook.channels import Channel
from alert_webhook.channels.registry import Transports, build_channels
from alert_webhook.delivery import Workers
from alert_webhook.delivery.scheduler import Scheduler
from alert_webhook.delivery.worker import DeliveryWorker
from alert_webhook.metrics import WebhookMetrics, create_metrics
from alert_webhook.routing import Planner, planner_from
from alert_webhook.settings import LinkSettings, Settings
from alert_webhook.store import SqlStore, open_store
from alert_webhook.store.group_commit import GroupCommit
from exporters.instrumentation import instrument_app


@dataclass
class AppContext:
    """What the blueprints share, kept in `app.extensions["alert_webhook"]`."""

    settings: Settings
    store: SqlStore
    metrics: WebhookMetrics
    clock: Callable[[], float]
    planner: Planner
    channels: dict[str, Channel]
    workers: Workers
    writer: GroupCommit

    @property
    def token(self) -> str | None:
        return self.settings.token.get_secret_value() if self.settings.token else None

    @property
    def links(self) -> LinkSettings:
        return self.settings.links

    def start(self) -> None:
        """Background threads: the delivery workers."""
        self.workers.start()


def create_app(
    settings: Settings,
    *,
    store: SqlStore | None = None,
    metrics: WebhookMetrics | None = None,
    clock: Callable[[], float] = time.time,
    transports: Transports | None = None,
    rand: Callable[[], float] = random.random,
) -> Flask:
    """The app; its delivery workers are built here and started by the caller
    (`app.extensions["alert_webhook"].start()`), or stepped by tests."""
    from alert_webhook import dashboard
    from alert_webhook.api import alerts, health, ids, incidents, ingest, security

    app = Flask(__name__)
    ids.install(app)
    security.install(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if store is None:
        store = open_store(settings.store.url)
        store.create_schema()
    metrics = metrics or create_metrics()
    planner = planner_from(settings)
    channels = build_channels(settings, transports)
    for channel in channels.values():
        if not channel.configured:
            app.logger.warning("channel %s: %s", channel.name, channel.problem)
    worker = DeliveryWorker(store.outbox, channels, settings, metrics, clock=clock, rand=rand)
    scheduler = Scheduler(store, settings, planner, metrics, clock=clock)
    app.extensions["alert_webhook"] = AppContext(
        settings=settings,
        store=store,
        metrics=metrics,
        clock=clock,
        planner=planner,
        channels=channels,
        workers=Workers(worker, scheduler, settings.delivery.poll_interval_seconds),
        writer=GroupCommit(lambda items: store.record_many(items, planner, clock())),
    )
    instrument_app(app, registry=metrics.registry, metrics_path="/metrics")
    for blueprint in (ingest.bp, health.bp, alerts.bp, incidents.bp, dashboard.bp):
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
