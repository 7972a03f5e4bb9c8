"""The outbox worker: claim due deliveries, walk each channel's failover chain.

Per claimed delivery: skip it if its channel cannot send (recorded, never
dropped); hold a resolved message until its firing one is settled; apply the
channel's budget; try providers in order past open breakers. A success is recorded
at once (the only window for a duplicate is between the provider accepting and
that commit); when the store cannot take it right then, the outcome is kept and
recorded first thing at the next pass, well inside the lease.

Failures stay with their delivery: an error no one foresaw (not a DeliveryError)
counts as a retryable failure of that provider, logged with the delivery's id,
and the batch goes on. While every provider of the channel is unavailable
(failing retryably, or behind an open breaker) the delivery waits, with the
recovery plan's backoff (2^attempt × base, jittered), until it has been tried
`max_attempts` times *and* waited `give_up_after_seconds`; only then, or at once
on a permanent failure, is it escalated to the alert's other channels.

A provider that throttles (HTTP 429) is neither: see `throttle.py`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from alert_webhook.db.transactions import StoreUnavailable
from alert_webhook.delivery.breaker import HALF_OPEN, CircuitBreaker
from alert_webhook.delivery.channels import (
    Channel,
    DeliveryError,
    Message,
    Throttled,
    stored_channels,
)
from alert_webhook.delivery.outbox import ALL_CHANNELS, DeliveryJob, Lane, Outbox
from alert_webhook.delivery.policy import Backoff
from alert_webhook.delivery.routing import Target, recipients_for
from alert_webhook.delivery.rows import DeliveryOutcome, DeliveryStatus, NewDelivery, Purpose
from alert_webhook.delivery.settings import (
    ChannelsSettings,
    DeliverySettings,
    LinkSettings,
    SmsBudget,
)
from alert_webhook.delivery.throttle import ThrottledWait, ThrottleGate, throttled_wait
from alert_webhook.metrics.registry import WebhookMetrics

logger = logging.getLogger("alert_webhook.delivery")
DIGEST = "storm digest"  # the note of the one message sent once a budget is spent
S = DeliveryStatus


@dataclass
class _Chain:
    """How a walk along a channel's providers went so far."""

    errors: list[str] = field(default_factory=list)
    retryable: bool = False
    tried: bool = False
    reopen_at: float | None = None  # the soonest trial of a provider behind an open breaker
    failed: bool = False  # a provider failed (not only throttled)
    held: bool = False  # a provider was not asked: it throttled an earlier delivery
    # Throttled (HTTP 429): when the next try may be, and what the record says of it.
    throttled: ThrottledWait | None = None


def spent_until(sent: list[tuple[float, str | None]], budget: SmsBudget) -> float:
    """Until when a budget spent with its digest sent stays so, from the messages
    in its window (delivery time and note, oldest first): until a message leaves
    the window that brings the count under the budget, or the digest leaves it,
    whichever comes first. Messages delivered meanwhile only make it last longer."""
    frees = sent[len(sent) - budget.max_messages][0] + budget.window_seconds
    digest_leaves = max(at for at, note in sent if note == DIGEST) + budget.window_seconds
    return min(frees, digest_leaves)


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        breakers: Mapping[str, CircuitBreaker],
        settings: DeliverySettings,
        links: LinkSettings,
        contacts: ChannelsSettings,
        metrics: WebhookMetrics,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        worker_id: str | None = None,
        lane: Lane = ALL_CHANNELS,
        trials: Executor | None = None,
    ) -> None:
        self.outbox, self.channels, self.breakers = outbox, channels, breakers
        self.settings, self.links, self.contacts, self.metrics = settings, links, contacts, metrics
        self.clock = clock
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        # The channels this worker claims: a hang on one lane's provider never holds
        # back another lane's deliveries.
        self.lane = lane
        # A breaker's half-open trial may hang until its timeout: it runs here, off
        # the lane, while the lane's other deliveries go to the next provider.
        self._trials = trials or ThreadPoolExecutor(2, thread_name_prefix="breaker-trial")
        self._lock = threading.Lock()
        self.backoff = Backoff.from_settings(settings.retry, rand)
        self.throttles = ThrottleGate()
        # When every other channel of an alert failed, the store's own ones still show it.
        self.last_resort = stored_channels(channels)
        self._batched: list[tuple[DeliveryOutcome, DeliveryJob]] = []
        # Outcomes the store could not take when they happened (a blip): recorded
        # before the next claim, so the lease still protects them.
        self._unrecorded: list[DeliveryOutcome] = []
        # By (channel, recipient): until when its budget is known to stay spent.
        self._spent_until: dict[tuple[str, str], float] = {}

    def run_once(self) -> int:
        """Work every due delivery once; return how many were claimed."""
        self._record_unrecorded()
        cfg = self.settings
        jobs = self.outbox.claim(
            self.clock(), self.worker_id, cfg.lease_seconds, cfg.batch_size, self.lane
        )
        try:
            for job in jobs:
                self._process_alone(job)
        finally:
            self._flush()
        return len(jobs)

    def _process_alone(self, job: DeliveryJob) -> None:
        """One delivery; whatever goes wrong with it stays its own (a store outage
        ends the pass: the rest of the batch waits for its lease)."""
        try:
            self.process(job)
        except StoreUnavailable:
            raise
        except Exception as exc:
            logger.exception("delivery %s on %s: unexpected error", job.id, job.channel)
            error = f"unexpected {type(exc).__name__}: {exc}"[:1000]
            self._after_chain(job, _Chain([error], retryable=True, tried=True, failed=True))

    def _record_unrecorded(self) -> None:
        with self._lock:
            outcomes, self._unrecorded = self._unrecorded, []
        if not outcomes:
            return
        try:
            owned = self.outbox.finish_many(outcomes)
        except StoreUnavailable:
            with self._lock:
                self._unrecorded[:0] = outcomes
            raise
        if owned < len(outcomes):
            logger.warning("%d outcomes came too late: their leases ran out", len(outcomes) - owned)

    def _count(self, job: DeliveryJob, provider: str | None, outcome: str) -> None:
        self.metrics.deliveries.labels(job.channel, provider or "none", outcome).inc()

    def _observe_latency(self, job: DeliveryJob, at: float) -> None:
        self.metrics.delivery_latency.labels(job.channel).observe(max(0.0, at - job.received_at))

    def _outcome(
        self, job: DeliveryJob, status: DeliveryStatus, provider: str | None = None,
        note: str | None = None, error: str | None = None,
    ) -> DeliveryOutcome:  # fmt: skip
        return DeliveryOutcome(job.id, job.claim, status, self.clock(), provider, note, error)

    def _finish_with_batch(
        self, job: DeliveryJob, status: DeliveryStatus, provider: str | None = None,
        note: str | None = None,
    ) -> None:  # fmt: skip
        """Record an outcome with no outside effect (a skip, a local channel) together
        with the batch's others: one write instead of one each."""
        self._batched.append((self._outcome(job, status, provider, note), job))

    def _flush(self) -> None:
        batch, self._batched = self._batched, []
        if not batch:
            return
        try:
            if self.outbox.finish_many([o for o, _ in batch]) < len(batch):
                logger.warning("some deliveries' leases were lost before recording")
        except StoreUnavailable as exc:
            # Said once per outage, with a count, by the store (db/outage.py).
            logger.debug("%d outcomes wait for the store: %s", len(batch), exc)
            with self._lock:
                self._unrecorded.extend(o for o, _ in batch)
        for outcome, job in batch:
            self._count(job, outcome.provider, outcome.status)
            if outcome.status == S.DELIVERED:
                self._observe_latency(job, outcome.at)

    def _finish_now(self, outcome: DeliveryOutcome, job: DeliveryJob) -> None:
        self._count(job, outcome.provider, outcome.status)
        try:
            if not self.outbox.finish(outcome):
                logger.warning(
                    "delivery %s: lease lost before recording %s", job.id, outcome.status
                )
        except StoreUnavailable as exc:
            logger.debug("delivery %s: %s, recorded once the store is back: %s",
                         job.id, outcome.status, exc)  # fmt: skip
            with self._lock:
                self._unrecorded.append(outcome)

    def process(self, job: DeliveryJob) -> None:
        channel = self.channels.get(job.channel)
        if channel is None or not channel.configured:
            problem = channel.problem if channel else f"unknown channel {job.channel}"
            return self._finish_with_batch(job, S.SKIPPED, note=problem)
        if channel.needs_recipient and not job.recipient:
            return self._finish_with_batch(job, S.SKIPPED, note="not configured: no recipients")
        if job.event_status == "resolved" and not self._firing_settled(job):
            return
        digest = 0
        if channel.budget is not None:
            digest = self._within_budget(job, channel.budget)
            if digest < 0:
                return
        self._send(job, channel, self._message(job, digest))

    def _firing_settled(self, job: DeliveryJob) -> bool:
        """A resolved message waits for its firing one and is dropped if that failed."""
        firing = self.outbox.counterpart_status(job)
        if firing in (S.PENDING, S.IN_FLIGHT):
            retry = self.clock() + self.settings.poll_interval_seconds
            self.outbox.retry_later(job, retry, None, refund_attempt=True)
            self._count(job, None, "deferred")
            return False
        if firing in (S.SKIPPED, S.FAILED, S.ESCALATED):
            note = f"firing message was {firing} on this channel"
            self._finish_now(self._outcome(job, S.SKIPPED, note=note), job)
            return False
        return True

    def _within_budget(self, job: DeliveryJob, budget: SmsBudget) -> int:
        """0: within budget; >0: send a digest instead; -1: held back (recorded).
        A budget found spent with its digest sent stays so until `spent_until`:
        the store is not asked again for every message of a storm before then."""
        key = (job.channel, job.recipient)
        now = self.clock()
        if now < self._spent_until.get(key, float("-inf")):
            return self._hold_back(job)
        sent = self.outbox.sent_times(job.channel, job.recipient, now - budget.window_seconds)
        if len(sent) < budget.max_messages:
            return 0
        if any(note == DIGEST for _, note in sent):
            self._spent_until[key] = spent_until(sent, budget)
            return self._hold_back(job)
        return len(sent)

    def _hold_back(self, job: DeliveryJob) -> int:
        note = f"held back by the {job.channel.upper()} budget; digest already sent"
        self._finish_now(self._outcome(job, S.SKIPPED, note=note), job)
        return -1

    def _message(self, job: DeliveryJob, digest: int) -> Message:
        return Message(
            delivery_id=job.id, channel=job.channel, recipient=job.recipient,
            purpose=job.purpose, status=job.event_status, alertname=job.alertname,
            severity=job.severity, labels=job.labels, annotations=job.annotations,
            generator_url=job.generator_url, starts_at=job.starts_at,
            links=self.links, note=job.note, digest_count=digest, alert_id=job.alert_id,
        )  # fmt: skip

    def _send(
        self, job: DeliveryJob, channel: Channel, message: Message, start: int = 0,
        chain: _Chain | None = None, trial: bool = False,
    ) -> None:  # fmt: skip
        """Walk the providers from `start`; `trial`: on the trial thread, where the
        provider at `start` is its breaker's half-open trial."""
        chain = chain or _Chain()
        for index in range(start, len(channel.providers)):
            provider = channel.providers[index]
            key = f"{channel.name}:{provider.name}"
            breaker = self.breakers[key]
            now = self.clock()
            held = self.throttles.held_until(key, now)
            if held is not None:  # it asked not to be called before then
                if trial and index == start:
                    breaker.no_verdict()  # this trial never asked: a later one may
                chain.errors.append(f"{provider.name}: throttled, asked to wait {held - now:.0f} s")
                chain.reopen_at = min(chain.reopen_at or held, held)
                chain.held = True
                continue
            if not (trial and index == start) and not breaker.allow():
                chain.errors.append(f"{provider.name}: circuit open")
                chain.reopen_at = min(chain.reopen_at or breaker.retry_at(), breaker.retry_at())
                continue
            if not trial and breaker.state == HALF_OPEN:  # this one is the trial
                self._trials.submit(self._trial, job, channel, message, index, chain)
                return None
            chain.tried = True
            try:
                provider.send(message)
            except Exception as exc:
                if not isinstance(exc, DeliveryError):
                    logger.exception("delivery %s: %s failed unexpectedly", job.id, provider.name)
                    exc = DeliveryError(f"unexpected {type(exc).__name__}: {exc}", retryable=True)
                if isinstance(exc, Throttled):
                    breaker.no_verdict()  # it answered: neither a failure nor a success
                    self._throttled(job, key, exc, chain)
                    continue
                chain.errors.append(f"{provider.name}: {exc.reason}")
                if exc.scope == "recipient":  # the provider works; the address does not
                    breaker.success()
                    return self.escalate(job, "; ".join(chain.errors))
                breaker.failure()
                chain.failed = True
                chain.retryable = chain.retryable or exc.retryable
                self._count(job, provider.name, "error")
                continue
            breaker.success()
            if provider.local and not trial:
                return self._finish_with_batch(job, S.DELIVERED, provider.name)
            note = DIGEST if message.digest_count else None
            outcome = self._outcome(job, S.DELIVERED, provider.name, note)
            self._finish_now(outcome, job)
            self._observe_latency(job, outcome.at)
            return None
        self._after_chain(job, chain)

    def _throttled(self, job: DeliveryJob, key: str, exc: Throttled, chain: _Chain) -> None:
        """The provider at `key` said "too many requests": when to try next (its
        Retry-After, capped at the delivery's give-up time), and no call to it
        from this worker before its Retry-After."""
        now = self.clock()
        retry = self.settings.retry
        give_up_at = job.received_at + retry.give_up_after_seconds
        wait = throttled_wait(exc.retry_after, now, self.backoff.delay(job.attempts), give_up_at)
        if exc.retry_after is not None:
            self.throttles.hold(key, min(now + exc.retry_after.wait(now),
                                         now + retry.give_up_after_seconds))  # fmt: skip
        provider = key.partition(":")[2]
        chain.errors.append(f"{provider}: throttled ({exc.reason}); {wait.text}")
        if chain.throttled is None or wait.at < chain.throttled.at:
            chain.throttled = wait
        chain.retryable = True
        self._count(job, provider, "throttled")
        logger.warning("delivery %s: %s throttled it; %s", job.id, provider, wait.text)

    def _trial(
        self, job: DeliveryJob, channel: Channel, message: Message, index: int, chain: _Chain
    ) -> None:
        try:
            self._send(job, channel, message, index, chain, trial=True)
        except Exception:  # its lease expires and the delivery is taken again
            logger.exception("delivery %s: the breaker trial on %s failed", job.id, channel.name)

    def _after_chain(self, job: DeliveryJob, chain: _Chain) -> None:
        retry = self.settings.retry
        now = self.clock()
        error = "; ".join(chain.errors)
        tried, reopen_at = chain.tried, chain.reopen_at
        give_up_at = job.received_at + retry.give_up_after_seconds
        unavailable = chain.retryable or not tried  # not the message's fault: worth waiting for
        if not unavailable or (now >= give_up_at and job.attempts >= retry.max_attempts):
            return self.escalate(job, error)
        if (chain.throttled or chain.held) and not chain.failed:
            # Throttled, or behind open breakers: no provider failed. Wait as asked,
            # until the give-up time at most, which then decides.
            if now >= give_up_at:
                return self.escalate(job, error)
            soonest = [give_up_at, *(t.at for t in [chain.throttled] if t)]
            soonest += [reopen_at] if reopen_at is not None else []
            self.outbox.retry_later(job, min(soonest), error, refund_attempt=not tried)
            return self._count(job, None, "retry" if tried else "deferred")
        if not tried and reopen_at is not None:
            # Every provider's breaker is open: wait for a trial, without spending a try.
            self.outbox.retry_later(job, reopen_at, error, refund_attempt=True)
            return self._count(job, None, "deferred")
        # The last wait ends at the give-up time, so that try decides.
        at = now + self.backoff.delay(job.attempts)
        self.outbox.retry_later(job, min(at, give_up_at) if now < give_up_at else at, error)
        self._count(job, None, "retry")

    def escalate(self, job: DeliveryJob, reason: str) -> None:
        """Carry the alert on its other channels with a note and flag the incident, in
        one store call."""
        note = f"{job.channel} delivery failed"
        now = self.clock()

        def failover(routed: list[str]) -> list[NewDelivery]:
            others = [c for c in dict.fromkeys(routed + self.last_resort) if c != job.channel]
            return [
                NewDelivery.pending(
                    job.alert_id,
                    job.event_id,
                    job.event_status,
                    Target(c, r),
                    Purpose.FAILOVER.of(job.channel),
                    now,
                    note,
                )  # fmt: skip
                for c in others
                for r in recipients_for(c, self.contacts)
            ]

        status = self.outbox.escalate(job, now, reason[:1000], f"{note}: {reason}"[:500], failover)
        if status is None:
            logger.warning("delivery %s: lease lost before escalating", job.id)
            return
        self.metrics.escalations.labels("channel_failed").inc()
        logger.error("delivery %s on %s failed: %s; escalated", job.id, job.channel, reason)
        self._count(job, None, status)
