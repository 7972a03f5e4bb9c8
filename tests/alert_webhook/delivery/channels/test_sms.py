"""channels/sms.py: the real twilio client against a loopback Messages API."""

from __future__ import annotations

import pytest
from fakes import ACCOUNT_SID, AUTH_TOKEN, TWILIO_MAX_BODY, fake_twilio, twilio_provider
from test_format import message

from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.channels import DeliveryError, RetryAfter, Throttled
from alert_webhook.delivery.channels.sms import TwilioSms
from alert_webhook.delivery.settings import TwilioProvider


@pytest.fixture
def twilio():
    with fake_twilio() as fake:
        yield fake


def _sms(fake, timeout: float = 2, token: str = AUTH_TOKEN) -> TwilioSms:
    settings = TwilioProvider(
        name="t1", from_number="+15555550000", api_base_url=fake.base_url, timeout_seconds=timeout
    )
    return TwilioSms(settings, ACCOUNT_SID, token)


def test_accepted_message_reaches_the_api_with_sender_recipient_and_text(twilio) -> None:
    sid = _sms(twilio).send(message(recipient="+15555550100"))
    assert sid.startswith("SM")
    (form,) = twilio.received
    assert form["To"] == "+15555550100" and form["From"] == "+15555550000"
    assert form["Body"].startswith("CRITICAL DemoServiceDown db1:9100")


@pytest.mark.parametrize(
    ("mode", "retryable", "scope"),
    [
        ("invalid_number", False, "recipient"),
        ("unsubscribed", False, "recipient"),
        ("auth", False, "provider"),
        ("rate_limited", True, "provider"),
        ("server_error", True, "provider"),
    ],
)
def test_failures_are_classified(twilio, mode: str, retryable: bool, scope: str) -> None:
    twilio.mode = mode
    with pytest.raises(DeliveryError) as exc:
        _sms(twilio).send(message())
    assert (exc.value.retryable, exc.value.scope) == (retryable, scope)
    assert twilio.received == []


@pytest.mark.parametrize(("header", "seconds"), [("12", 12.0), (None, None)])
def test_a_429_is_throttling_with_the_retry_after_the_api_sent(
    twilio, header: str | None, seconds: float | None
) -> None:
    twilio.mode, twilio.retry_after = "rate_limited", header
    with pytest.raises(Throttled) as exc:
        _sms(twilio).send(message())
    expected = RetryAfter(seconds=seconds) if seconds is not None else None
    assert exc.value.retry_after == expected and "20429" in exc.value.reason


def test_wrong_credentials_are_a_permanent_provider_failure(twilio) -> None:
    with pytest.raises(DeliveryError) as exc:
        _sms(twilio, token="wrong").send(message())
    assert not exc.value.retryable and "20003" in exc.value.reason
    assert "wrong" not in exc.value.reason


def test_a_hanging_api_times_out_and_is_retryable(twilio) -> None:
    twilio.mode = "hang"
    with pytest.raises(DeliveryError) as exc:
        _sms(twilio, timeout=0.3).send(message())
    assert exc.value.retryable and "Timeout" in exc.value.reason


def test_unreachable_api_is_retryable() -> None:
    with fake_twilio() as fake:
        sms = _sms(fake)
    with pytest.raises(DeliveryError) as exc:
        sms.send(message())
    assert exc.value.retryable


def test_numbers_written_with_formatting_reach_twilio_in_e164(twilio) -> None:
    # Twilio takes E.164 only ("+1 (555) …" is refused as an invalid 'To'), and
    # people write numbers with spaces and brackets.
    provider = twilio_provider(twilio, from_number="+1 (555) 555-0000")
    settings = settings_from_mapping(
        {"channels": {"sms": {"providers": [provider], "recipients": ["+1 (555) 555-0100"],
                              "escalation_recipients": ["0044 20 7946 0958"]}}},
        {},
    )  # fmt: skip
    sms = settings.channels.sms
    assert sms.recipients == ["+15555550100"] and sms.escalation_recipients == ["+442079460958"]
    TwilioSms(sms.providers[0], ACCOUNT_SID, AUTH_TOKEN).send(message(recipient=sms.recipients[0]))
    (form,) = twilio.received
    assert form["To"] == "+15555550100" and form["From"] == "+15555550000"


def test_a_two_thousand_character_label_still_makes_an_sms_twilio_takes(twilio) -> None:
    """Twilio refuses bodies over 1,600 characters (error 21617): the SMS was never sent."""
    huge = message(labels={"alertname": "DemoServiceDown", "instance": "db1-" + "x" * 2000})
    _sms(twilio).send(huge)
    (form,) = twilio.received
    body = form["Body"]
    assert len(body) <= TWILIO_MAX_BODY
    assert body.startswith("CRITICAL DemoServiceDown db1-xxx") and "..." in body
    assert "Reply ACK 42" in body[:160] and body.endswith(" http://127.0.0.1:9095/")
