"""The alert webhook: receives Alertmanager notifications, stores and shows them.

`create_app(settings)` is the one factory; it reads no environment itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from alert_webhook.app.background import build_background
from alert_webhook.app.channels import Transports, ack_links_from, build_channels
from alert_webhook.app.wiring import (
    Fleet,
    failover_from,
    fleet_breaker_from,
    fleet_from,
    load_remediation_playbooks,
    remediation_from,
)
from alert_webhook.clients.alertmanager import AlertmanagerAPI
from alert_webhook.config.settings import Settings
from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.delivery.channels import stored_channels
from alert_webhook.drills.metrics import DrillCollector
from alert_webhook.failover.action import failover_action
from alert_webhook.fleet.pausing import PausedCollector
from alert_webhook.incidents.flapping_end import FlappingCollector
from alert_webhook.metrics.registry import BacklogCollector, WebhookMetrics, create_metrics
from alert_webhook.remediation.actions.base import Boundaries
from alert_webhook.remediation.playbooks import Playbooks
from alert_webhook.reports.improvement import ImprovementCollector
from alert_webhook.reports.response import ResponseCollector
from alert_webhook.store import SqlStore, open_store
from alert_webhook.web.context import EXTENSION, AppContext
from alert_webhook.web.operators import Access
from exporters.instrumentation import instrument_app


def create_app(
    settings: Settings,
    *,
    store: SqlStore | None = None,
    metrics: WebhookMetrics | None = None,
    clock: Callable[[], float] = time.time,
    transports: Transports | None = None,
    rand: Callable[[], float] = random.random,
    listen_host: str = "127.0.0.1",
    playbooks: Playbooks | None = None,
    action_boundaries: Boundaries | None = None,
    alertmanager: AlertmanagerAPI | None = None,
    fleet: Fleet | None = None,
    request_threads: int | None = None,
) -> Flask:
    """The app; its background loops are built here and started by the caller
    (`app.extensions["alert_webhook"].start()`), or stepped by tests.
    `listen_host` is the address it is served on: an allowed Host name, and
    beyond loopback operators must log in to view. With remediation enabled,
    `playbooks` are the validated playbook file (read from the settings' path
    when not given: ConfigError on any problem) and `action_boundaries` what the
    actions touch (the environment they may pass on: none unless given).
    `alertmanager` is the client of Alertmanager's API (silences, the alerts it
    holds): by default the one at `links.alertmanager_url`. `fleet` is the
    inventory and the executor host-bound steps use (built from `fleet:` in the
    settings when not given: ConfigError on a bad inventory or key).
    `request_threads` is how many the server has: all but two of them at most
    may wait on the store for ingest (None: no such cap)."""
    from alert_webhook.api import (
        ack_link,
        alerts,
        drills,
        health,
        incidents,
        ingest,
        remediations,
        reports,
        twilio_inbound,
    )
    from alert_webhook.api import fleet as fleet_api
    from alert_webhook.dashboard import drills as drills_page
    from alert_webhook.dashboard import live as console
    from alert_webhook.dashboard import login, noise, pages
    from alert_webhook.dashboard import report as report_page
    from alert_webhook.web import auth, guard, ids, security

    app = Flask("alert_webhook")
    ids.install(app)
    security.install(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if store is None:
        store = open_store(settings.store.url, settings.store.limits())
        store.create_schema()
    metrics = metrics or create_metrics()
    links = ack_links_from(settings, clock)
    if links is None and settings.channels.email.providers:
        app.logger.warning("email carries no acknowledge links: set ALERT_WEBHOOK_SECRET_KEY")
    channels = build_channels(settings, transports, links)
    for channel in channels.values():
        metrics.channel_configured.labels(channel.name).set(1 if channel.configured else 0)
        if not channel.configured:
            app.logger.warning("channel %s: %s", channel.name, channel.problem)
    failover = failover_from(settings, store, metrics, clock)
    if playbooks is None:
        playbooks = load_remediation_playbooks(settings)
    if playbooks is not None:
        playbooks = playbooks.binding(failover_action(failover))
    breaker = fleet_breaker_from(settings, store, stored_channels(channels))
    if fleet is None:
        env = action_boundaries.env if action_boundaries is not None else {}
        fleet = fleet_from(settings, playbooks, env)
    remediation = remediation_from(settings, playbooks, fleet, breaker)
    alertmanager = alertmanager or AlertmanagerAPI(settings.links.alertmanager_url)
    background = build_background(
        settings, store, channels, metrics, remediation, alertmanager,
        clock=clock, rand=rand, action_boundaries=action_boundaries, failover=failover,
        request_threads=request_threads,
    )  # fmt: skip
    access = Access.of(settings.auth, listen_host, clock)
    app.extensions[EXTENSION] = AppContext(
        settings=settings, store=store, metrics=metrics, clock=clock, channels=channels,
        breakers=background.breakers, workers=background.workers, intake=background.intake,
        access=access, silences=background.silences, remediation=remediation,
    )  # fmt: skip
    metrics.registry.register(BacklogCollector(store.outbox.backlog, clock))
    metrics.registry.register(FlappingCollector(store.flapping.open_count))
    books = remediation.playbooks.playbooks if remediation else ()
    acting = [book.name for book in books if book.actions]
    metrics.registry.register(ImprovementCollector(store.recovery.improvement, clock, acting))
    metrics.registry.register(ResponseCollector(store.response.distributions, clock))
    instrument_app(app, registry=metrics.registry, metrics_path="/metrics")
    guard.install(app, settings, listen_host)
    auth.install(app, settings, access)
    metrics.registry.register(PausedCollector(store.fleet, settings.fleet.breaker, clock))
    metrics.registry.register(DrillCollector(store.drills.summaries))
    blueprints = (ingest.bp, health.bp, alerts.bp, incidents.bp, remediations.bp, reports.bp,
                  fleet_api.bp, drills.bp)  # fmt: skip
    for blueprint in (*blueprints, pages.bp, report_page.bp, drills_page.bp, noise.bp, console.bp,
                      login.bp):  # fmt: skip
        app.register_blueprint(blueprint)
    twilio_inbound.install(app)
    ack_link.install(app, links)
    _json_errors(app)
    return app


def _json_errors(app: Flask) -> None:
    """Every error is JSON naming the problem, never an HTML trace."""

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> Any:
        # Said once per outage, with a count, by the store (db/outage.py).
        app.logger.debug("answering 503: %s", exc)
        return jsonify({"error": "store unavailable; retry later"}), 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return jsonify({"error": exc.description or exc.name}), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error")
        return jsonify({"error": "internal error; see the webhook's log"}), 500
