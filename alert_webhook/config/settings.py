"""Typed settings for the webhook, from a YAML file plus the environment.

Every problem is collected and reported at once (`ConfigError.problems`), each
naming the file, the key and what is wrong. Secrets (the bearer token, a
database URL with a password) come only from the environment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from alert_webhook.config.auth import AuthSettings, secret_key_problems
from alert_webhook.config.environment import DATABASE_URL_ENV, SECRET_KEY_ENV, TOKEN_ENV
from alert_webhook.db.engine import StoreLimits
from alert_webhook.delivery.settings import (
    ChannelsSettings,
    DeliverySettings,
    IncidentSettings,
    LinkSettings,
    RoutingSettings,
    WatchdogSettings,
    secret_env_names,
)
from alert_webhook.failover.config import FailoverSettings
from alert_webhook.fleet.settings import FleetSettings
from alert_webhook.ingest.reconcile import ReconcileSettings
from alert_webhook.remediation.recurring import RecurringHealsSettings
from alert_webhook.reports.settings import ReportSettings
from toolkit.config import ConfigError, Strict, load_yaml, validation_problems

__all__ = [
    "ConfigError",
    "FrontSettings",
    "Settings",
    "check_bind",
    "load_settings",
    "settings_from_mapping",
]


class StoreSettings(Strict):
    """Where the store is and how long it may make anything wait (docs/webhook.md,
    "Store timeouts"): a database that hangs costs a bounded wait and a 503."""

    # Relative SQLite paths are resolved against the working directory.
    url: str = "sqlite:///var/webhook.sqlite3"
    # PostgreSQL: opening a connection (libpq counts whole seconds, at least 2).
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # PostgreSQL's own statement_timeout and lock_timeout on every connection.
    statement_timeout_seconds: float = Field(default=10.0, gt=0)
    lock_timeout_seconds: float = Field(default=5.0, gt=0)
    # PostgreSQL: the longest one use of a connection waits on the server before
    # the webhook cuts it — the bound that holds when the server is alive but
    # answering nothing and so cannot time out a statement itself.
    response_timeout_seconds: float = Field(default=15.0, gt=0)
    # Waiting for a free connection of the pool.
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # PostgreSQL: TCP keepalives after this much silence notice a vanished host.
    keepalive_idle_seconds: float = Field(default=10.0, gt=0)
    # SQLite: waiting for another process's write lock.
    busy_timeout_seconds: float = Field(default=5.0, gt=0)
    # /readyz says "not ready" when the store does not answer within this.
    ping_timeout_seconds: float = Field(default=2.0, gt=0)

    def limits(self) -> StoreLimits:
        return StoreLimits(
            connect_timeout=self.connect_timeout_seconds,
            statement_timeout=self.statement_timeout_seconds,
            lock_timeout=self.lock_timeout_seconds,
            response_timeout=self.response_timeout_seconds,
            pool_timeout=self.pool_timeout_seconds,
            keepalive_idle=self.keepalive_idle_seconds,
            busy_timeout=self.busy_timeout_seconds,
        )

    @field_validator("url")
    @classmethod
    def _sqlite_or_postgresql(cls, value: str) -> str:
        # The message never repeats the URL: it may carry a password.
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("must be a sqlite:///PATH or postgresql+psycopg://… URL")
        return value


class RemediationSettings(Strict):
    """Automated recovery: off unless asked for, so an upgrade starts running no
    commands by itself."""

    enabled: bool = False
    # None: the shipped playbooks (alert_webhook/playbooks.yml). A relative path is
    # resolved against the working directory.
    playbooks_file: Path | None = None
    # Over the file's own switch and each playbook's: nothing runs, runs are
    # recorded as skipped with what they would have done.
    dry_run: bool = False
    # How long a claimed run is held before another runner may take it over; each
    # step holds it for its own timeout on top of this.
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    # Where verifications and preconditions are asked; None: `links.prometheus_url`.
    prometheus_url: str | None = None
    prometheus_timeout_seconds: float = Field(default=5.0, gt=0)
    # A target healed more than max_heals times in window_seconds pages once per
    # window (alert_webhook/remediation/recurring.py).
    recurring_heals: RecurringHealsSettings = RecurringHealsSettings()
    # A guardrail's block escalates once per playbook and guardrail in this
    # window; the other blocked runs are recorded, not sent (escalation.py).
    # 0: every blocked run escalates.
    blocked_window_seconds: float = Field(default=300.0, ge=0)


class FrontSettings(Strict):
    """The HTTP front's limits against slow and greedy clients
    (alert_webhook/cli/front_limits.py)."""

    # A connection that has not delivered a whole request this long after its
    # first byte (after connecting, for its first request) is closed.
    request_deadline_seconds: float = Field(default=30.0, gt=0)
    # Open connections from one client address (IPv6: one /64); a new one past
    # it takes the place of the address's oldest unfinished one.
    connections_per_address: int = Field(default=100, gt=0)


class Settings(Strict):
    store: StoreSettings = StoreSettings()
    links: LinkSettings = LinkSettings()
    # A notification larger than this is refused with 413 before it is parsed.
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    front: FrontSettings = FrontSettings()
    routing: RoutingSettings = RoutingSettings()
    channels: ChannelsSettings = ChannelsSettings()
    delivery: DeliverySettings = DeliverySettings()
    incidents: IncidentSettings = IncidentSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    auth: AuthSettings = AuthSettings()
    remediation: RemediationSettings = RemediationSettings()
    # The failover action's chains (alert_webhook/failover/config.py).
    failover: FailoverSettings = FailoverSettings()
    # The hosts remediation may act on and how it reaches them (alert_webhook/fleet/).
    fleet: FleetSettings = FleetSettings()
    # The weekly noise digest by email (alert_webhook/reports/settings.py).
    reports: ReportSettings = ReportSettings()
    # Bearer token for POST /alerts; from the environment only.
    token: SecretStr | None = None
    # Signs operators' session cookies; from the environment only.
    secret_key: SecretStr | None = None
    # Channel credentials by environment variable name; from the environment only.
    secrets: dict[str, SecretStr] = Field(default_factory=dict)

    def secret(self, env_name: str | None) -> str | None:
        value = self.secrets.get(env_name) if env_name else None
        return value.get_secret_value() if value is not None else None


def settings_from_mapping(
    data: Mapping[str, Any], env: Mapping[str, str], source: str = "<settings>"
) -> Settings:
    """Validate `data` (the YAML document) and overlay secrets from `env`."""
    merged: dict[str, Any] = dict(data)
    problems: list[str] = []
    if "token" in merged:
        problems.append(f"token: secrets are not read from files; set {TOKEN_ENV} instead")
        merged.pop("token")
    if "secret_key" in merged:
        problems.append(f"secret_key: secrets are not read from files; set {SECRET_KEY_ENV}")
        merged.pop("secret_key")
    if "secrets" in merged:
        problems.append(
            "secrets: secrets are not read from files; name environment "
            "variables with *_env keys instead"
        )
        merged.pop("secrets")
    token = env.get(TOKEN_ENV, "")
    if token and not token.strip():
        # A blank bearer token is no secret; an empty variable means no token.
        problems.append(
            f"{TOKEN_ENV}: is only whitespace; set a real token, or leave it empty "
            "to run without one (loopback only)"
        )
    elif token:
        merged["token"] = token
    if env.get(SECRET_KEY_ENV):
        merged["secret_key"] = env[SECRET_KEY_ENV]
    if env.get(DATABASE_URL_ENV):
        store = dict(merged.get("store") or {})
        store["url"] = env[DATABASE_URL_ENV]
        merged["store"] = store
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, problems + validation_problems(exc)) from None
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    problems += secret_key_problems(settings.auth, key)
    problems += _digest_problems(settings)
    if problems:
        raise ConfigError(source, problems)
    found = {n: SecretStr(env[n]) for n in secret_env_names(settings.channels) if env.get(n)}
    return settings.model_copy(update={"secrets": found}) if found else settings


def _digest_problems(settings: Settings) -> list[str]:
    digest = settings.reports.digest
    if digest.enabled and not digest.recipients_or(settings.channels.email.recipients):
        return [
            "reports.digest.recipients: the digest is enabled but has no one to go to; "
            "name recipients here or in channels.email.recipients"
        ]
    return []


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Read the YAML file at `path` (optional) and the environment."""
    if path is None:
        return settings_from_mapping({}, env)
    data = load_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["must be a mapping of keys to values"])
    return settings_from_mapping(data, env, str(path))


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to listen beyond loopback without a token: anyone who can reach the
    port could otherwise post alerts and page people."""
    if settings.token is not None:
        return
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConfigError(
        f"bind {host}",
        [
            "refusing to listen beyond loopback without a token; "
            f"set {TOKEN_ENV} or bind to 127.0.0.1"
        ],
    )
