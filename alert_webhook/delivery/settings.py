"""Typed settings for notifications: routing, channels, delivery, incidents, watchdog.

Credentials are never in the YAML: a provider names the environment variables
that hold them (`password_env: SMTP_PASSWORD`), and `Settings.secrets` carries
their values, read once by the settings loader.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from alert_webhook.delivery.phone_numbers import e164
from alert_webhook.text import one_line
from toolkit.config import Strict

Severity = Literal["critical", "high", "medium", "low"]
ChannelName = Literal["sms", "email", "dashboard", "log", "webhook"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


class Route(Strict):
    """Alerts whose labels match get these channels; the first matching route wins."""

    match: dict[str, str] = Field(default_factory=dict)  # label → exact value
    match_re: dict[str, str] = Field(default_factory=dict)  # label → full-match regex
    channels: list[ChannelName]


def _alert_channels() -> dict[Severity, list[ChannelName]]:
    # The recovery plan's "Alert Channels", by severity.
    return {
        "critical": ["sms", "email", "dashboard"],
        "high": ["email", "dashboard"],
        "medium": ["dashboard"],
        "low": ["log"],
    }


def _fallback_channels() -> list[ChannelName]:
    return ["dashboard", "log"]


def _response_deadlines() -> dict[Severity, float]:
    # The recovery plan's "Alert Levels": critical immediate, high within 1 h,
    # medium 4 h, low 24 h.
    return {"critical": 300.0, "high": 3600.0, "medium": 14400.0, "low": 86400.0}


class RoutingSettings(Strict):
    severity_channels: dict[Severity, list[ChannelName]] = Field(default_factory=_alert_channels)
    # For alerts without a known severity label: shown, never lost.
    fallback_channels: list[ChannelName] = Field(default_factory=_fallback_channels)
    routes: list[Route] = Field(default_factory=list)


class SmtpProvider(Strict):
    name: str
    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    sender: str = "recovery-stack@example.org"
    timeout_seconds: float = Field(default=10, gt=0)
    # A private CA's certificate file, for relays not signed by a public CA.
    ca_file: str | None = None


def _e164_numbers(written: list[str]) -> list[str]:
    """Phone numbers in E.164, the only form Twilio takes; a number that is not a
    full international one is refused, all of them named."""
    numbers = [(w, e164(w)) for w in written]
    bad = [repr(w) for w, number in numbers if number is None]
    if bad:
        raise ValueError(f"{', '.join(bad)}: not a full international number (+15555550100)")
    return [str(number) for _w, number in numbers]


class TwilioProvider(Strict):
    name: str
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    from_number: str
    # Only for tests and private gateways: where the Messages API lives.
    api_base_url: str | None = None
    timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("from_number")
    @classmethod
    def _in_e164(cls, number: str) -> str:
        return _e164_numbers([number])[0]


class WebhookProvider(Strict):
    name: str
    url: str
    token_env: str | None = None
    timeout_seconds: float = Field(default=5, gt=0)


class SmsBudget(Strict):
    max_messages: int = Field(default=5, ge=1)
    window_seconds: float = Field(default=3600, gt=0)


class EmailChannel(Strict):
    providers: list[SmtpProvider] = Field(default_factory=list)  # failover order
    recipients: list[str] = Field(default_factory=list)
    escalation_recipients: list[str] = Field(default_factory=list)


class SmsChannel(Strict):
    providers: list[TwilioProvider] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    escalation_recipients: list[str] = Field(default_factory=list)
    budget: SmsBudget = SmsBudget()
    # E.164 number → the person's name, recorded when they acknowledge by reply
    # ("alice (sms)"); a recipient without a name is recorded by number.
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("recipients", "escalation_recipients")
    @classmethod
    def _in_e164(cls, numbers: list[str]) -> list[str]:
        return _e164_numbers(numbers)

    @field_validator("names")
    @classmethod
    def _by_e164_number(cls, names: dict[str, str]) -> dict[str, str]:
        numbers = _e164_numbers(list(names))
        if any(not 0 < len(one_line(name).strip()) <= 64 for name in names.values()):
            raise ValueError("a name must be 1 to 64 characters")
        return {
            number: one_line(name).strip()
            for number, name in zip(numbers, names.values(), strict=True)
        }


class WebhookChannel(Strict):
    providers: list[WebhookProvider] = Field(default_factory=list)


class ChannelsSettings(Strict):
    email: EmailChannel = EmailChannel()
    sms: SmsChannel = SmsChannel()
    webhook: WebhookChannel = WebhookChannel()


class RetrySettings(Strict):
    # While every provider is unavailable (failing retryably, or behind an open
    # breaker), a delivery is retried after 2^attempt × base_delay, jittered and
    # capped, and escalated only once it has been tried max_attempts times *and*
    # has waited give_up_after_seconds: an outage shorter than that loses nothing.
    max_attempts: int = Field(default=3, ge=1)
    base_delay_seconds: float = Field(default=2.0, gt=0)
    max_delay_seconds: float = Field(default=600.0, gt=0)
    jitter_ratio: float = Field(default=0.2, ge=0, le=1)
    give_up_after_seconds: float = Field(default=900.0, gt=0)


class BreakerSettings(Strict):
    failure_threshold: int = Field(default=5, ge=1)
    window_seconds: float = Field(default=60.0, gt=0)
    open_seconds: float = Field(default=30.0, gt=0)


class DeliverySettings(Strict):
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    # A claimed delivery not finished within its lease is taken again (crash recovery).
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval_seconds: float = Field(default=0.2, gt=0)
    # An idle lane (nothing found, nothing woke it) doubles its wait from
    # poll_interval_seconds up to this; new work in this process wakes it at once.
    idle_poll_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    # After a wake-up, gather this long before claiming (fewer, larger batches).
    coalesce_seconds: float = Field(default=0.01, ge=0)
    # A still-firing critical alert reminds this often (0: never).
    reminder_interval_seconds: float = Field(default=3600.0, ge=0)


class FlappingSettings(Strict):
    """When an alert is flapping (docs/webhook.md, *Flapping*). An alert that changes
    state more than `max_changes` times within `window_seconds` is flapping: the
    change past the limit sends one notice ("flapping: 5 changes in 30 min") and
    the changes after it none. It stops once it has held one state for
    `hold_seconds`, and people are told that once.

    Why these defaults: fire, resolve, fire, resolve is a fix that did not hold,
    and each of those is news; the third firing within half an hour is a pattern
    a fifth message adds nothing to. Half an hour: Alertmanager sends a group's
    next change one `group_interval` (5 min by default) after the last at the
    soonest, so an alert flipping at every interval makes its fifth change in
    20-25 min, while one that fires twice an hour never counts five. Ten
    minutes of one state: two group intervals, and longer than the mean gap
    between the changes of anything that counted as flapping (30 min / 5), so
    a pause between two flaps does not end it."""

    enabled: bool = True
    max_changes: int = Field(default=4, ge=1)
    window_seconds: float = Field(default=1800.0, gt=0)
    hold_seconds: float = Field(default=600.0, gt=0)


class IncidentSettings(Strict):
    # Response deadlines: unacknowledged past it, the next tier is told. "Immediate"
    # for critical is the recovery plan's 0-5 minute "Immediate Assessment".
    deadlines_seconds: dict[Severity, float] = Field(default_factory=_response_deadlines)
    # While an operator's silence holds, how often Alertmanager is asked whether
    # its alert still fires (a silenced alert's resolution never reaches us).
    silence_check_seconds: float = Field(default=15.0, gt=0)
    flapping: FlappingSettings = FlappingSettings()

    @model_validator(mode="after")
    def _all_severities(self) -> IncidentSettings:
        missing = [s for s in SEVERITIES if s not in self.deadlines_seconds]
        if missing:
            raise ValueError(f"deadlines_seconds lacks {', '.join(missing)}")
        return self


class WatchdogSettings(Strict):
    alertname: str = "Watchdog"
    # Armed once the first heartbeat arrives; silent longer than this → critical.
    timeout_seconds: float = Field(default=300.0, gt=0)
    enabled: bool = True


def secret_env_names(channels: ChannelsSettings) -> list[str]:
    """Every environment variable the channels name for a credential."""
    names: list[str | None] = []
    for smtp in channels.email.providers:
        names += [smtp.username_env, smtp.password_env]
    for sms in channels.sms.providers:
        names += [sms.account_sid_env, sms.auth_token_env]
    for hook in channels.webhook.providers:
        names.append(hook.token_env)
    return [n for n in names if n]


class LinkSettings(Strict):
    """Where people follow links from messages and the dashboard."""

    dashboard_url: str = "http://127.0.0.1:9095/"
    prometheus_url: str = "http://127.0.0.1:9090"
    alertmanager_url: str = "http://127.0.0.1:9093"
    # Where the runbooks of the alerts the webhook raises itself live; the same
    # base as the rules' `runbook_base` (rules/src/params.yml).
    runbook_base_url: str = (
        "https://github.com/recovery-stack/recovery-stack/blob/main/docs/runbooks"
    )
    # The webhook's own address as the outside world calls it (behind a reverse
    # proxy: https://alerts.example.org): the URL Twilio signs its inbound-message
    # requests with, and the base of the acknowledge links in email. None: the
    # request's own URL for Twilio, `dashboard_url` for links.
    public_url: str | None = None
    # How long an email's acknowledge link works after it is sent.
    ack_link_lifetime_seconds: float = Field(default=86400.0, gt=0)

    @field_validator("public_url")
    @classmethod
    def _absolute_http(cls, value: str | None) -> str | None:
        parts = urlsplit(value) if value is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value
