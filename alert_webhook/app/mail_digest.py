"""The weekly noise digest (reports/digest.py) wired to the email channel: its
SMTP providers in failover order, behind the same breakers as the email lane,
so a relay the alerts found broken is not tried by the digest either."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from alert_webhook.config.settings import Settings
from alert_webhook.delivery.breaker import CircuitBreaker
from alert_webhook.delivery.channels import Channel, DeliveryError
from alert_webhook.delivery.channels.email import SmtpEmail
from alert_webhook.delivery.policy import Backoff
from alert_webhook.reports.digest import Letter, NotConfigured, Post, Undelivered, WeeklyDigest
from alert_webhook.store import SqlStore

DIGEST_LOOP = "digest"


def email_post(channel: Channel, breakers: Mapping[str, CircuitBreaker]) -> Post:
    """Send a letter through the first SMTP provider that takes it."""

    def post(letter: Letter) -> str:
        if not channel.configured:
            raise NotConfigured(channel.problem or f"{channel.name}: not configured")
        errors: list[str] = []
        retryable = False
        for provider in channel.providers:
            if not isinstance(provider, SmtpEmail):
                continue
            breaker = breakers[f"{channel.name}:{provider.name}"]
            if not breaker.allow():
                errors.append(f"{provider.name}: circuit open")
                retryable = True
                continue
            try:
                provider.send_text(letter.recipient, letter.subject, letter.body, letter.message_id)
            except Exception as exc:
                if not isinstance(exc, DeliveryError):
                    exc = DeliveryError(f"unexpected {type(exc).__name__}: {exc}", retryable=True)
                errors.append(f"{provider.name}: {exc.reason}")
                if exc.scope == "recipient":  # the relay works; the address does not
                    breaker.success()
                    raise Undelivered("; ".join(errors), retryable=False) from None
                breaker.failure()
                retryable = retryable or exc.retryable
                continue
            breaker.success()
            return provider.name
        raise Undelivered("; ".join(errors) or "no SMTP provider", retryable=retryable)

    return post


def build_digest(
    settings: Settings,
    store: SqlStore,
    channels: Mapping[str, Channel],
    breakers: Mapping[str, CircuitBreaker],
    clock: Callable[[], float],
    rand: Callable[[], float],
) -> WeeklyDigest | None:
    """The digest when `reports.digest.enabled`, else None."""
    cfg = settings.reports.digest
    if not cfg.enabled:
        return None
    email = channels["email"]
    # One send may wait on every provider's timeout, for the connection, the
    # data and the goodbye: the lease outlasts that, so no replica takes it over.
    timeouts = sum(p.timeout_seconds for p in settings.channels.email.providers)
    return WeeklyDigest(
        cfg, cfg.recipients_or(settings.channels.email.recipients), settings.links.dashboard_url,
        store.digests, store.noise, email_post(email, breakers),
        partial(Backoff.delay, Backoff.from_settings(settings.delivery.retry, rand)), clock,
        lease_seconds=settings.delivery.lease_seconds + 3 * timeouts,
    )  # fmt: skip
