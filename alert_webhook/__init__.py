"""The alert webhook: receives Alertmanager notifications, stores and shows them.

`create_app(settings)` is the one factory; it reads no environment itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from alert_webhook.channels.registry import Transports, build_channels
from alert_webhook.context import EXTENSION, AppContext
from alert_webhook.delivery import lanes_for, provider_breakers
from alert_webhook.delivery.worker import DeliveryWorker
from alert_webhook.duties import DeadlineEscalation, Duties, Reminders, Watchdog
from alert_webhook.loops import Loop, Workers
from alert_webhook.metrics import BacklogCollector, WebhookMetrics, create_metrics
from alert_webhook.operators import Access
from alert_webhook.remediation.actions import Boundaries
from alert_webhook.remediation.playbooks import Playbooks
from alert_webhook.remediation.runner import Runner
from alert_webhook.service import (
    Intake,
    load_remediation_playbooks,
    recording_from,
    remediation_from,
    stored_channels,
)
from alert_webhook.settings import Settings
from alert_webhook.store import SqlStore, StoreUnavailable, open_store
from alert_webhook.store.group_commit import GroupCommit
from alert_webhook.store.remediations import RemediationPlanner
from exporters.instrumentation import instrument_app

DUTIES_INTERVAL = 1.0  # deadlines and heartbeats are minutes-scale
REMEDIATION_LOOP = "remediation"


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
) -> Flask:
    """The app; its background loops are built here and started by the caller
    (`app.extensions["alert_webhook"].start()`), or stepped by tests.
    `listen_host` is the address it is served on: an allowed Host name, and
    beyond loopback operators must log in to view. With remediation enabled,
    `playbooks` are the validated playbook file (read from the settings' path
    when not given: ConfigError on any problem) and `action_boundaries` what the
    actions touch (the environment they may pass on: none unless given)."""
    from alert_webhook import dashboard
    from alert_webhook.api import (
        alerts,
        auth,
        guard,
        health,
        ids,
        incidents,
        ingest,
        remediations,
        security,
    )
    from alert_webhook.dashboard import login

    app = Flask(__name__)
    ids.install(app)
    security.install(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if store is None:
        store = open_store(settings.store.url)
        store.create_schema()
    metrics = metrics or create_metrics()
    channels = build_channels(settings, transports)
    for channel in channels.values():
        metrics.channel_configured.labels(channel.name).set(1 if channel.configured else 0)
        if not channel.configured:
            app.logger.warning("channel %s: %s", channel.name, channel.problem)
    delivery = settings.delivery
    breakers = provider_breakers(channels, delivery.breaker, metrics, clock)
    lanes = lanes_for(channels)
    trials = ThreadPoolExecutor(2, thread_name_prefix="breaker-trial")
    lane_workers = [
        DeliveryWorker(
            store.outbox,
            channels,
            breakers,
            delivery,
            settings.links,
            settings.channels,
            metrics,
            clock=clock,
            rand=rand,
            lane=lane,
            trials=trials,
        )  # fmt: skip
        for lane in lanes
    ]
    if playbooks is None:
        playbooks = load_remediation_playbooks(settings)
    remediation = remediation_from(settings, playbooks)
    extra = [RemediationPlanner(remediation.playbooks)] if remediation else []
    recording = recording_from(settings, stored_channels(channels), extra)
    writer = GroupCommit(lambda items: store.record_many(items, recording, clock()))
    workers = Workers([])  # its loops are set below: the watchdog accepts through intake
    intake = Intake(
        writer, metrics, partial(workers.wake, *(lane.name for lane in lanes)), clock,
        wake_remediation=partial(workers.wake, REMEDIATION_LOOP) if remediation else lambda: None,
    )  # fmt: skip
    duties = Duties(
        [
            ("deadlines", DeadlineEscalation(store.incidents, settings.channels, metrics, clock)),
            ("reminders", Reminders(store.incidents, delivery.reminder_interval_seconds, clock)),
            ("watchdog", Watchdog(settings.watchdog, settings.links.runbook_base_url, store,
                                  intake.accept, metrics, clock)),
        ]
    )  # fmt: skip
    workers.add(
        *(
            Loop(lane.name, worker.run_once, delivery.poll_interval_seconds,
                 busy_at=delivery.batch_size, coalesce=delivery.coalesce_seconds)
            for lane, worker in zip(lanes, lane_workers, strict=True)
        ),
        Loop("duties", duties.run_once, DUTIES_INTERVAL),
    )  # fmt: skip
    if remediation is not None:
        cfg = settings.remediation
        runner = Runner(store.remediations, remediation, metrics,
                        action_boundaries or Boundaries(), clock, cfg.lease_seconds)  # fmt: skip
        workers.add(Loop(REMEDIATION_LOOP, runner.run_once, cfg.poll_interval_seconds, busy_at=1))
    access = Access.of(settings.auth, listen_host)
    app.extensions[EXTENSION] = AppContext(
        settings=settings, store=store, metrics=metrics, clock=clock, channels=channels,
        breakers=breakers, workers=workers, intake=intake,
        access=access, remediation=remediation,
    )  # fmt: skip
    metrics.registry.register(BacklogCollector(store.outbox.backlog, clock))
    instrument_app(app, registry=metrics.registry, metrics_path="/metrics")
    guard.install(app, settings, listen_host)
    auth.install(app, settings, access)
    blueprints = (ingest.bp, health.bp, alerts.bp, incidents.bp, remediations.bp, dashboard.bp)
    for blueprint in (*blueprints, login.bp):
        app.register_blueprint(blueprint)

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> Any:
        app.logger.warning("store unavailable; answering 503: %s", exc)
        return jsonify({"error": "store unavailable; retry later"}), 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Every HTTP error is JSON naming the problem, never an HTML trace.
        return jsonify({"error": exc.description or exc.name}), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error")
        return jsonify({"error": "internal error; see the webhook's log"}), 500

    return app
