"""Channels that need no credentials: dashboard, log; and the generic JSON webhook."""

from __future__ import annotations

import logging

import requests

from alert_webhook.delivery.channels import DeliveryError, Message, Throttled
from alert_webhook.delivery.channels.format import log_line, record
from alert_webhook.delivery.settings import WebhookProvider
from toolkit.retry_after import parse_retry_after


class Dashboard:
    """The delivery row is what the dashboard shows. Its channel is `stored`, so its
    deliveries are written as delivered; one that reaches a worker anyway (a
    failover) is delivered by being recorded."""

    name = "dashboard"
    local = True

    def send(self, message: Message) -> str | None:
        return None


class Log:
    name = "log"
    local = True

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def send(self, message: Message) -> str | None:
        self._logger.warning(log_line(message))
        return None


class JsonWebhook:
    """POSTs the structured message to a chat tool's incoming webhook."""

    local = False

    def __init__(
        self, settings: WebhookProvider, token: str | None, session: requests.Session
    ) -> None:
        self.name = settings.name
        self._settings = settings
        self._token = token
        self._session = session

    def send(self, message: Message) -> str | None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            resp = self._session.post(
                self._settings.url,
                json=record(message),
                headers=headers,
                timeout=self._settings.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise DeliveryError(
                f"webhook unreachable: {type(exc).__name__}", retryable=True
            ) from None
        if resp.status_code == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise Throttled("webhook HTTP 429", retry_after)
        if resp.status_code >= 500:
            raise DeliveryError(f"webhook HTTP {resp.status_code}", retryable=True)
        if resp.status_code >= 400:
            raise DeliveryError(f"webhook HTTP {resp.status_code}", retryable=False)
        return None
