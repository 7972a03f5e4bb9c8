"""The weekly noise digest: once each ISO week, at its weekday and hour (UTC),
the noise report of the 7 days before goes by email to its recipients.

Each pass (its own loop, on the injected clock): when this week's time has come
and no replica planned the week yet, read the report and write the week's rows
— one per recipient, with the subject and text — in one transaction; the
unique key (week, recipient) lets one replica's rows in. A week in which no
alert fired is recorded `skipped`: nothing is sent. Then send the due rows
under a lease, as the outbox does: a relay that is unavailable is tried again
with backoff until `give_up_after_seconds`, a refusal is final, and a replica
that dies mid-send leaves the row to the next claim once the lease runs out.

The transport is a parameter (`Post`): the app hands in the email channel's
providers behind their breakers; tests hand in a fake or a real SMTP server.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alert_webhook.reports.digest_text import body, fired, subject
from alert_webhook.reports.digests import DigestJob, Digests, DigestStatus, NewDigest
from alert_webhook.reports.noise import Noise
from alert_webhook.reports.settings import WEEKDAYS, DigestSettings

logger = logging.getLogger("alert_webhook.digest")
WEEK = 7 * 86400.0
NOTHING_FIRED = "not sent: no alert fired in the window"
BATCH = 1  # one send per claim: a slow relay never outlasts the lease of rows waiting behind it


@dataclass(frozen=True)
class Week:
    """An ISO week's digest: its key and the window it reports, which ends at its
    send time (`until`)."""

    key: str  # "2026-W48"
    since: float
    until: float


def week_of(now: float, weekday: str, hour: int) -> Week:
    """The ISO week `now` falls in, with its digest's send time."""
    day = datetime.fromtimestamp(now, UTC)
    year, number, _ = day.isocalendar()
    monday = (day - timedelta(days=day.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    send = (monday + timedelta(days=WEEKDAYS.index(weekday), hours=hour)).timestamp()
    return Week(f"{year}-W{number:02d}", send - WEEK, send)


@dataclass(frozen=True)
class Letter:
    """One plain-text mail; `message_id` stays the same on every retry."""

    recipient: str
    subject: str
    body: str
    message_id: str


class Undelivered(Exception):
    """The transport did not take a letter: `retryable` when it may later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


class NotConfigured(Undelivered):
    """There is no way to send mail at all: the digest is recorded skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


Post = Callable[[Letter], str]  # sends, returns the provider that took it, or raises Undelivered


class WeeklyDigest:
    def __init__(
        self,
        settings: DigestSettings,
        recipients: Sequence[str],
        dashboard_url: str,
        digests: Digests,
        noise: Noise,
        post: Post,
        backoff: Callable[[int], float],
        clock: Callable[[], float],
        lease_seconds: float = 60.0,
        worker_id: str | None = None,
    ) -> None:
        self.settings, self.recipients = settings, list(recipients)
        self.dashboard_url = dashboard_url
        self.digests, self.noise, self.post, self.backoff = digests, noise, post, backoff
        self.clock, self.lease_seconds = clock, lease_seconds
        self.worker_id = worker_id or uuid.uuid4().hex[:16]

    def run_once(self) -> int:
        """Plan this week's digest when due, then send what is due; how many were claimed."""
        self.plan(self.clock())
        return self.send_due()

    def plan(self, now: float) -> int:
        """This week's rows when its time has come and nobody planned them; how many
        this replica wrote."""
        s = self.settings
        week = week_of(now, s.weekday, s.hour)
        if now < week.until or self.digests.planned(week.key):
            return 0
        report = self.noise.report(week.since, week.until)
        quiet = fired(report) == 0 and not any(r.flaps for r in report.rules)
        status = DigestStatus.SKIPPED if quiet else DigestStatus.PENDING
        note = NOTHING_FIRED if quiet else None
        title, text = subject(week.key, report), body(week.key, report, self.dashboard_url)
        rows = [NewDigest(week.key, r, week.since, week.until, title, text, status, note)
                for r in self.recipients]  # fmt: skip
        written = self.digests.plan(rows, now)
        if written:
            logger.info("noise digest %s planned for %d recipients%s", week.key, written,
                        " (nothing fired: not sent)" if quiet else "")  # fmt: skip
        return written

    def send_due(self) -> int:
        jobs = self.digests.claim(self.clock(), self.worker_id, self.lease_seconds, BATCH)
        for job in jobs:
            letter = Letter(job.recipient, job.subject, job.body,
                            f"<digest-{job.week}.{job.id}@recovery-stack>")  # fmt: skip
            try:
                provider = self.post(letter)
            except NotConfigured as exc:
                self.digests.finish(job, DigestStatus.SKIPPED, self.clock(), note=exc.reason)
            except Undelivered as exc:
                self._failed(job, exc.reason, exc.retryable)
            except Exception as exc:  # a transport's surprise is its failure, worth a retry
                logger.exception("noise digest %s to %s: unexpected error", job.week, job.recipient)
                self._failed(job, f"unexpected {type(exc).__name__}: {exc}", retryable=True)
            else:
                self.digests.finish(job, DigestStatus.SENT, self.clock(), provider)
                logger.info("noise digest %s sent to %s by %s", job.week, job.recipient, provider)
        return len(jobs)

    def _failed(self, job: DigestJob, reason: str, retryable: bool) -> None:
        now, reason = self.clock(), reason[:1000]
        give_up_at = job.planned_at + self.settings.give_up_after_seconds
        if retryable and now < give_up_at:
            self.digests.retry_later(job, min(now + self.backoff(job.attempts), give_up_at), reason)
            return
        self.digests.finish(job, DigestStatus.FAILED, now, error=reason)
        logger.error("noise digest %s to %s failed: %s", job.week, job.recipient, reason)
