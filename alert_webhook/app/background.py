"""What runs beside the requests, wired together: the intake that records each
notification and wakes the loops, one delivery lane per channel that leaves the
process, the time-driven duties, the reconciliation with Alertmanager's alerts,
and, when they are enabled, the weekly noise digest and the remediation runner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from alert_webhook.app.duties import Duties, Watchdog
from alert_webhook.app.mail_digest import DIGEST_LOOP, build_digest
from alert_webhook.app.wiring import recording_from
from alert_webhook.clients.alertmanager import AlertmanagerAPI
from alert_webhook.config.settings import Settings
from alert_webhook.delivery.breaker import CircuitBreaker
from alert_webhook.delivery.channels import Channel, inline_channels, stored_channels
from alert_webhook.delivery.lanes import lanes_for, provider_breakers
from alert_webhook.delivery.routing import Router
from alert_webhook.delivery.worker import DeliveryWorker
from alert_webhook.failover.switch import Failover
from alert_webhook.failover.switch_back import FailoverSwitchBack
from alert_webhook.incidents.deadlines import DeadlineEscalation, Reminders
from alert_webhook.incidents.flapping_end import FlappingEnd
from alert_webhook.incidents.silences import IncidentSilences, SilenceWatch
from alert_webhook.ingest.group_commit import GroupCommit
from alert_webhook.ingest.intake import Intake
from alert_webhook.ingest.reconcile import Reconcile
from alert_webhook.loops import Loop, Workers
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.remediation.actions.base import Boundaries
from alert_webhook.remediation.escalation import BlockedNotices, Escalation
from alert_webhook.remediation.recurring import RecurringHeals
from alert_webhook.remediation.runner import REMEDIATION_LOOP, Remediation, Runner
from alert_webhook.remediation.runs import RemediationPlanner
from alert_webhook.store import SqlStore

DUTIES_INTERVAL = 1.0  # deadlines and heartbeats are minutes-scale
RECONCILE_LOOP = "reconcile"


@dataclass(frozen=True)
class Background:
    intake: Intake
    workers: Workers
    breakers: Mapping[str, CircuitBreaker]
    silences: IncidentSilences


def build_background(
    settings: Settings,
    store: SqlStore,
    channels: Mapping[str, Channel],
    metrics: WebhookMetrics,
    remediation: Remediation | None,
    alertmanager: AlertmanagerAPI,
    *,
    clock: Callable[[], float],
    rand: Callable[[], float],
    action_boundaries: Boundaries | None = None,
    failover: Failover | None = None,
    request_threads: int | None = None,
) -> Background:
    delivery = settings.delivery
    breakers = provider_breakers(channels, delivery.breaker, metrics, clock)
    lanes = lanes_for(channels)
    # What people hear of a run's ending, wherever it ends: the runner, or the
    # planner that records its alert's resolution.
    router = Router(settings.routing, settings.channels)
    stored = frozenset(stored_channels(channels))
    cfg = settings.remediation
    heals = RecurringHeals(cfg.recurring_heals, router, stored)
    tell = Escalation(router, stored, heals, BlockedNotices(cfg.blocked_window_seconds))
    extra = [RemediationPlanner(remediation.playbooks, tell)] if remediation else []
    recording = recording_from(
        settings, stored_channels(channels), extra, inline_channels(channels)
    )
    # Two request threads stay free of ingest waiting on the store (group_commit.py).
    inside = max(1, request_threads - 2) if request_threads else None
    writer = GroupCommit(
        lambda items: store.record_many(items, recording, clock()),
        outage=store.outage,
        max_inside=inside,
    )
    workers = Workers()  # loops are added below: the watchdog accepts through the intake
    intake = Intake(
        writer, metrics, partial(workers.wake, *(lane.name for lane in lanes)), clock,
        wake_remediation=partial(workers.wake, REMEDIATION_LOOP) if remediation else lambda: None,
    )  # fmt: skip
    trials = ThreadPoolExecutor(2, thread_name_prefix="breaker-trial")
    for lane in lanes:
        worker = DeliveryWorker(
            store.outbox, channels, breakers, delivery, settings.links, settings.channels,
            metrics, clock=clock, rand=rand, lane=lane, trials=trials,
        )  # fmt: skip
        workers.add(
            Loop(lane.name, worker.run_once, delivery.poll_interval_seconds,
                 busy_at=delivery.batch_size, coalesce=delivery.coalesce_seconds,
                 idle_interval=delivery.idle_poll_seconds)
        )  # fmt: skip
    boundaries = action_boundaries or Boundaries()
    silences = IncidentSilences(store.incidents, alertmanager, clock)
    watch = SilenceWatch(silences, intake.accept, settings.incidents.silence_check_seconds, clock)
    duties = Duties(
        [
            ("deadlines", DeadlineEscalation(store.incidents, settings.channels, metrics, clock)),
            ("reminders", Reminders(store.incidents, delivery.reminder_interval_seconds, clock)),
            ("watchdog", Watchdog(settings.watchdog, settings.links.runbook_base_url, store,
                                  intake.accept, metrics, clock)),
            ("silences", watch),
            ("flapping", FlappingEnd(store.flapping, settings.incidents.flapping,
                                     frozenset(stored_channels(channels)), clock,
                                     ended=intake.wake_deliveries)),
        ]
    )  # fmt: skip
    if failover is not None:
        duties.duties.append(("failover", FailoverSwitchBack(failover, boundaries, clock)))
    workers.add(Loop("duties", duties.run_once, DUTIES_INTERVAL))
    # Its own loop: an Alertmanager slow to answer delays no deadline or heartbeat.
    # Its first pass runs at start-up.
    reconcile = Reconcile(settings.reconcile, store.tx, alertmanager, intake.accept, clock)
    workers.add(Loop(RECONCILE_LOOP, reconcile.run_once, settings.reconcile.interval_seconds))
    digest = build_digest(settings, store, channels, breakers, clock, rand)
    if digest is not None:
        # Its own loop: a mail relay slow to answer delays no deadline or heartbeat.
        workers.add(Loop(DIGEST_LOOP, digest.run_once, settings.reports.digest.check_seconds,
                         busy_at=1))  # fmt: skip
    if remediation is not None:
        runner = Runner(store.runs, remediation, metrics,
                        boundaries, clock, cfg.lease_seconds,
                        silences=alertmanager,
                        tell=tell)  # fmt: skip
        workers.add(Loop(REMEDIATION_LOOP, runner.run_once, cfg.poll_interval_seconds, busy_at=1))
    return Background(intake, workers, breakers, silences)
