"""The outbox worker: claim due deliveries, walk each channel's failover chain.

Per claimed delivery: skip it if its channel cannot send (recorded, never
dropped); hold a resolved message until its firing one is settled; apply the
SMS budget; try providers in order past open breakers. A success is recorded
at once (the only window for a duplicate is between the provider accepting and
that commit). Retryable failures are retried with the plan's backoff; a
permanent failure or an exhausted chain escalates to the alert's other channels.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from alert_webhook.channels import Channel, DeliveryError, Message
from alert_webhook.delivery.breaker import STATE_VALUES, CircuitBreaker
from alert_webhook.delivery.policy import Backoff
from alert_webhook.metrics import WebhookMetrics
from alert_webhook.routing import Target, recipients_for
from alert_webhook.settings import Settings
from alert_webhook.store.outbox import (
    DELIVERED,
    ESCALATED,
    FAILED,
    IN_FLIGHT,
    PENDING,
    SKIPPED,
    DeliveryJob,
    Outbox,
)
from alert_webhook.store.record import NOTIFY, delivery_row

logger = logging.getLogger("alert_webhook.delivery")
DIGEST = "storm digest"
BACKLOG_INTERVAL = 1.0  # seconds between backlog queries while every pass claims work


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        channels: dict[str, Channel],
        settings: Settings,
        metrics: WebhookMetrics,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        worker_id: str | None = None,
    ) -> None:
        self.outbox, self.channels, self.settings, self.metrics = (
            outbox,
            channels,
            settings,
            metrics,
        )
        self.clock = clock
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        cfg = settings.delivery
        self.backoff = Backoff.from_settings(cfg.retry, rand)
        self.breakers: dict[str, CircuitBreaker] = {}
        self._deferred: list[tuple[dict[str, Any], DeliveryJob]] = []
        self._backlog_at: float | None = None
        for channel in channels.values():
            for provider in channel.providers:
                key = f"{channel.name}:{provider.name}"
                self.breakers[key] = CircuitBreaker(
                    key, cfg.breaker.failure_threshold, cfg.breaker.window_seconds,
                    cfg.breaker.open_seconds, clock, self._breaker_changed,
                )  # fmt: skip
            metrics.channel_configured.labels(channel.name).set(1 if channel.configured else 0)

    def _breaker_changed(self, name: str, state: str) -> None:
        self.metrics.breaker_state.labels(name).set(STATE_VALUES[state])
        if state != "closed":
            logger.warning("circuit breaker %s is now %s", name, state)

    def run_once(self) -> int:
        """Work every due delivery once; return how many were claimed."""
        cfg = self.settings.delivery
        jobs = self.outbox.claim(self.clock(), self.worker_id, cfg.lease_seconds, cfg.batch_size)
        try:
            for job in jobs:
                self.process(job)
        finally:
            self._flush()
        # The backlog gauges cost a query: under load (every pass claims) once a
        # second is enough; an idle pass may have emptied the queue, so it looks.
        now = self.clock()
        if not jobs or self._backlog_at is None or now - self._backlog_at >= BACKLOG_INTERVAL:
            self.update_backlog()
        return len(jobs)

    def _flush(self) -> None:
        """Record the batch's local outcomes together: one write instead of one each."""
        items, self._deferred = self._deferred, []
        if items and self.outbox.finish_many([i for i, _ in items]) < len(items):
            logger.warning("some deliveries' leases were lost before recording")
        for item, job in items:
            self._count(job, item["b_provider"] or "none", item["b_status"])
            if item["b_status"] == DELIVERED:
                self.metrics.delivery_latency.labels(job.channel).observe(
                    max(0.0, item["b_at"] - job.received_at)
                )

    def update_backlog(self) -> None:
        self._backlog_at = self.clock()
        count, age = self.outbox.backlog(self._backlog_at)
        self.metrics.deliveries_pending.set(count)
        self.metrics.oldest_pending_age.set(age)

    def _count(self, job: DeliveryJob, provider: str, outcome: str) -> None:
        self.metrics.deliveries.labels(job.channel, provider, outcome).inc()

    def _defer(
        self, job: DeliveryJob, status: str, provider: str = "", note: str | None = None
    ) -> None:
        item = {"b_id": job.id, "b_claim": job.claim, "b_status": status, "b_at": self.clock()}
        self._deferred.append((item | {"b_provider": provider or None, "b_note": note}, job))

    def _finish(self, job: DeliveryJob, status: str, provider: str = "", **kw: str | None) -> None:
        if not self.outbox.finish(job.id, job.claim, status, self.clock(), provider or None, **kw):
            logger.warning("delivery %s: lease lost before recording %s", job.id, status)
        self._count(job, provider or "none", status)

    def process(self, job: DeliveryJob) -> None:
        channel = self.channels.get(job.channel)
        if channel is None or not channel.configured:
            problem = channel.problem if channel else f"unknown channel {job.channel}"
            return self._defer(job, SKIPPED, note=problem)
        if job.channel in ("email", "sms") and not job.recipient:
            return self._defer(job, SKIPPED, note="not configured: no recipients")
        if job.event_status == "resolved" and not self._firing_settled(job):
            return
        digest = 0
        if job.channel == "sms":
            digest = self._sms_budget(job)
            if digest < 0:
                return
        self._send(job, channel, self._message(job, digest))

    def _firing_settled(self, job: DeliveryJob) -> bool:
        """A resolved message waits for its firing one and is dropped if that failed."""
        firing = self.outbox.counterpart_status(job)
        if firing in (PENDING, IN_FLIGHT):
            retry = self.clock() + self.settings.delivery.poll_interval_seconds
            self.outbox.reschedule(job.id, job.claim, retry, None, refund_attempt=True)
            self._count(job, "none", "deferred")
            return False
        if firing in (SKIPPED, FAILED, ESCALATED):
            self._finish(job, SKIPPED, note=f"firing message was {firing} on this channel")
            return False
        return True

    def _sms_budget(self, job: DeliveryJob) -> int:
        """0: within budget; >0: send a digest instead; -1: held back (recorded)."""
        budget = self.settings.channels.sms.budget
        since = self.clock() - budget.window_seconds
        sent = self.outbox.sent_since("sms", job.recipient, since)
        if sent < budget.max_messages:
            return 0
        if self.outbox.sent_since("sms", job.recipient, since, purpose=DIGEST):
            self._finish(job, SKIPPED, note="held back by the SMS budget; digest already sent")
            return -1
        return sent

    def _message(self, job: DeliveryJob, digest: int) -> Message:
        return Message(
            delivery_id=job.id, channel=job.channel, recipient=job.recipient,
            purpose=job.purpose, status=job.event_status, alertname=job.alertname,
            severity=job.severity, labels=job.labels, annotations=job.annotations,
            generator_url=job.generator_url, starts_at=job.starts_at,
            links=self.settings.links, note=job.note, digest_count=digest,
        )  # fmt: skip

    def _send(self, job: DeliveryJob, channel: Channel, message: Message) -> None:
        errors: list[str] = []
        retryable = False
        reopen_at: float | None = None
        tried = False
        for provider in channel.providers:
            breaker = self.breakers[f"{channel.name}:{provider.name}"]
            if not breaker.allow():
                errors.append(f"{provider.name}: circuit open")
                reopen_at = min(reopen_at or breaker.retry_at(), breaker.retry_at())
                continue
            tried = True
            try:
                provider.send(message)
            except DeliveryError as exc:
                errors.append(f"{provider.name}: {exc.reason}")
                if exc.scope == "recipient":  # the provider works; the address does not
                    breaker.success()
                    return self.escalate(job, "; ".join(errors))
                breaker.failure()
                retryable = retryable or exc.retryable
                self._count(job, provider.name, "error")
                continue
            breaker.success()
            if getattr(provider, "local", False):  # nothing left the process: batch it
                return self._defer(job, DELIVERED, provider.name)
            note = DIGEST if message.digest_count else None
            self._finish(job, DELIVERED, provider.name, note=note)
            self.metrics.delivery_latency.labels(job.channel).observe(
                max(0.0, self.clock() - job.received_at)
            )
            return None
        self._after_chain(job, "; ".join(errors), retryable, tried, reopen_at)

    def _after_chain(
        self, job: DeliveryJob, error: str, retryable: bool, tried: bool, reopen_at: float | None
    ) -> None:
        retry = self.settings.delivery.retry
        now = self.clock()
        waited = now - job.received_at
        if not tried and reopen_at is not None and waited < retry.give_up_after_seconds:
            # Every provider's breaker is open: wait for a trial, without spending a try.
            self.outbox.reschedule(job.id, job.claim, reopen_at, error, refund_attempt=True)
            return self._count(job, "none", "deferred")
        if (retryable or not tried) and job.attempts < retry.max_attempts:
            at = now + self.backoff.delay(job.attempts)
            self.outbox.reschedule(job.id, job.claim, at, error)
            return self._count(job, "none", "retry")
        self.escalate(job, error)

    def escalate(self, job: DeliveryJob, reason: str) -> None:
        """Carry the alert on its other channels with a note; flag the incident."""
        note = f"{job.channel} delivery failed"
        others = [c for c in self.outbox.channels_of(job.alert_id) if c != job.channel]
        if "dashboard" not in others and job.channel != "dashboard":
            others.append("dashboard")
        now = self.clock()
        rows = [
            delivery_row(
                job.alert_id,
                job.event_id,
                job.event_status,
                Target(c, r),
                f"failover:{job.channel}",
                now,
                note,
            )  # fmt: skip
            for c in others
            for r in recipients_for(c, self.settings.channels)
        ]
        self.outbox.enqueue(rows)
        self.outbox.flag_incident(job.alert_id, f"{note}: {reason}"[:500])
        self.metrics.escalations.labels("channel_failed").inc()
        logger.error("delivery %s on %s failed: %s; escalated", job.id, job.channel, reason)
        # Row counts of executemany differ between drivers: judge by what was asked.
        self._finish(job, ESCALATED if rows else FAILED, error=reason[:1000])


__all__ = ["DeliveryWorker", "NOTIFY"]
