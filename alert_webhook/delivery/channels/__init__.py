"""Channels: what a message says (`format`) apart from how it is sent (one module each).

A channel is a failover chain of providers, each with one entry point,
`send(message) -> provider message id`. A provider raises `DeliveryError`
saying whether the failure is worth retrying and whether it is the recipient's
(another provider will not help) or the provider's (the next one might); or
`Throttled` when it answered "too many requests" (HTTP 429), with its
`Retry-After`: the provider works, and asks to be left alone that long.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from alert_webhook.delivery.settings import LinkSettings, SmsBudget
from toolkit.retry_after import RetryAfter


@dataclass(frozen=True)
class Message:
    delivery_id: int
    channel: str
    recipient: str
    purpose: str
    status: str  # the alert's state change: firing | resolved
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    starts_at: str
    links: LinkSettings
    note: str | None = None
    digest_count: int = 0  # >0: SMS already sent in the window; say so instead
    # The alert whose state change this is: its incident's number, which a reply
    # ("ACK 42") or an acknowledge link names. None for messages of no incident.
    alert_id: int | None = None

    @property
    def target(self) -> str:
        return target_of(self.labels)


def target_of(labels: Mapping[str, str]) -> str:
    """What an alert is about, as messages name it: its instance, else service, job, probe."""
    for key in ("instance", "service", "job", "probe"):
        if labels.get(key):
            return labels[key]
    return ""


class DeliveryError(Exception):
    def __init__(
        self, reason: str, *, retryable: bool, scope: Literal["provider", "recipient"] = "provider"
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.scope = scope


class Throttled(DeliveryError):
    """The provider answered "too many requests": not a failure of the provider or
    of the message; ask again no sooner than `retry_after` (None: not said)."""

    def __init__(self, reason: str, retry_after: RetryAfter | None) -> None:
        super().__init__(reason, retryable=True)
        self.retry_after = retry_after


class Provider(Protocol):
    name: str
    # Nothing leaves the process (the log, the dashboard): its outcome may be
    # recorded with the rest of the batch rather than at once.
    local: bool

    def send(self, message: Message) -> str | None: ...


@dataclass
class Channel:
    """A channel's failover chain; `problem` says why it cannot send at all."""

    name: str
    providers: list[Provider] = field(default_factory=list)
    problem: str | None = None
    # One delivery per person; with nobody configured, one that is recorded skipped.
    needs_recipient: bool = False
    # Its transport is the store: a delivery is delivered when it is recorded.
    stored: bool = False
    # Messages per recipient per window; past it, one digest, then nothing.
    budget: SmsBudget | None = None
    # Its one provider is local and has nothing to wait for (the log): a message is
    # sent in the transaction that records its state change, before the commit, and
    # stored delivered there; no worker claims it. At least once, as every channel:
    # a commit that fails answers non-2xx, Alertmanager sends again, the line may
    # appear twice.
    inline: bool = False

    @property
    def configured(self) -> bool:
        return self.problem is None and bool(self.providers)


def stored_channels(channels: Mapping[str, Channel]) -> list[str]:
    """The channels whose transport is the store: their deliveries are delivered when
    recorded, and they carry an alert when every other channel failed."""
    return [name for name, channel in channels.items() if channel.stored]


def inline_channels(channels: Mapping[str, Channel]) -> dict[str, Channel]:
    """The configured channels that send in the recording transaction."""
    return {name: c for name, c in channels.items() if c.inline and c.configured}
