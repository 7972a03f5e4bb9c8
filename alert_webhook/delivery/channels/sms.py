"""SMS through Twilio's Messages API with the `twilio` library.

Timeouts are always set. `api_base_url` points the client at another origin
(a loopback fake in tests) through twilio's supported extension point, a
custom `http_client`, rather than patching the library: twilio-python's
maintainers advise extending `TwilioHttpClient` for special cases
(twilio/twilio-python#367), and Twilio support suggested exactly this for
testing against a mock endpoint (twilio/twilio-python#521).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alert_webhook.delivery.channels import DeliveryError, Message, Throttled
from alert_webhook.delivery.channels.format import sms_text
from alert_webhook.delivery.settings import TwilioProvider
from toolkit.retry_after import parse_retry_after

# Twilio error codes: https://www.twilio.com/docs/api/errors
THROTTLED_CODES = {20429}  # too many requests
RECIPIENT_CODES = {21211, 21610, 21614, 21408}  # invalid/unsubscribed/not mobile/region
PROVIDER_CODES = {20003, 20404, 21606, 21659}  # authentication, unknown sender


class OriginHttpClient(TwilioHttpClient):
    """twilio's HTTP client, sending every request to `base_url`'s origin instead
    (when given), and keeping the `Retry-After` of a 429 answer: twilio's
    TwilioRestException carries no headers, and this is the client's own layer."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._origin = urlsplit(base_url) if base_url else None
        self._last = threading.local()  # per thread: a breaker trial runs on its own

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self._origin is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (self._origin.scheme, self._origin.netloc, parts.path, parts.query, "")
            )
        self._last.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 429 and response.headers is not None:
            self._last.retry_after = response.headers.get("Retry-After")
        return response

    def retry_after(self) -> str | None:
        """The Retry-After of this thread's last request, when it was a 429."""
        return getattr(self._last, "retry_after", None)


def make_client(settings: TwilioProvider, account_sid: str, auth_token: str) -> Client:
    http = OriginHttpClient(settings.api_base_url, settings.timeout_seconds)
    return Client(account_sid, auth_token, http_client=http)


def classify(exc: Exception, retry_after: str | None = None) -> DeliveryError:
    """What a failed request means; `retry_after`: the header of a 429 answer."""
    if isinstance(exc, TwilioRestException):
        code, status = exc.code or 0, exc.status
        reason = f"twilio HTTP {status} error {code}: {exc.msg}"
        if code in THROTTLED_CODES or status == 429:
            return Throttled(reason, parse_retry_after(retry_after))
        if status >= 500:
            return DeliveryError(reason, retryable=True)
        if code in RECIPIENT_CODES:
            return DeliveryError(reason, retryable=False, scope="recipient")
        return DeliveryError(reason, retryable=False)
    if isinstance(exc, requests.RequestException):
        return DeliveryError(f"twilio unreachable: {type(exc).__name__}", retryable=True)
    return DeliveryError(f"twilio client error: {exc}", retryable=True)


class TwilioSms:
    local = False

    def __init__(
        self,
        settings: TwilioProvider,
        account_sid: str,
        auth_token: str,
        client_factory: Callable[[TwilioProvider, str, str], Any] = make_client,
    ) -> None:
        self.name = settings.name
        self._settings = settings
        self._client = client_factory(settings, account_sid, auth_token)

    def send(self, message: Message) -> str | None:
        try:
            sent = self._client.messages.create(
                to=message.recipient, from_=self._settings.from_number, body=sms_text(message)
            )
        except (TwilioException, requests.RequestException) as exc:
            http = getattr(self._client, "http_client", None)
            retry_after = http.retry_after() if isinstance(http, OriginHttpClient) else None
            raise classify(exc, retry_after) from None
        except ValueError:  # 2xx without the API's JSON: a proxy's or portal's page
            raise DeliveryError(
                "twilio answered with something that is not the Messages API", retryable=True
            ) from None
        return str(sent.sid)
