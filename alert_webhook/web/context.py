"""What the views share: one typed application context per app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import current_app

from alert_webhook.config.settings import Settings
from alert_webhook.delivery.breaker import CircuitBreaker
from alert_webhook.delivery.channels import Channel
from alert_webhook.delivery.settings import LinkSettings
from alert_webhook.incidents.silences import IncidentSilences
from alert_webhook.ingest.intake import Intake
from alert_webhook.loops import Workers
from alert_webhook.metrics.registry import WebhookMetrics
from alert_webhook.remediation.runner import Remediation
from alert_webhook.store import SqlStore
from alert_webhook.web.operators import Access

EXTENSION = "alert_webhook"


@dataclass
class AppContext:
    settings: Settings
    store: SqlStore
    metrics: WebhookMetrics
    clock: Callable[[], float]
    channels: Mapping[str, Channel]
    breakers: Mapping[str, CircuitBreaker]
    workers: Workers
    intake: Intake
    access: Access
    silences: IncidentSilences  # operators' silences, in Alertmanager
    remediation: Remediation | None = None  # None: remediation is off

    @property
    def token(self) -> str | None:
        return self.settings.token.get_secret_value() if self.settings.token else None

    @property
    def links(self) -> LinkSettings:
        return self.settings.links

    def start(self) -> None:
        """The background loops (deliveries, duties, remediation)."""
        self.workers.start()


def ctx() -> AppContext:
    """The current app's context (inside a request or an app context)."""
    context: AppContext = current_app.extensions[EXTENSION]
    return context
