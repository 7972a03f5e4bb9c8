"""A reply to the alert SMS acknowledges the incident, as Twilio delivers it: a
request signed with the account's auth token is accepted and the open console
shows who acknowledged; an unsigned or wrongly signed one changes nothing."""

from __future__ import annotations

import re

import pytest
import requests
from fakes import AUTH_TOKEN
from playwright.sync_api import expect
from support.procs import wait_until
from twilio.request_validator import RequestValidator

from browser.console_stack import SMS_NAME, SMS_RECIPIENT
from browser.pages import LIVE_TIMEOUT_MS, fired_on_console, incident

pytestmark = pytest.mark.integration


def _reply_asked(stack, alert_id: int) -> str:
    """What the alert SMS asked its recipient to reply, read off the message
    the Messages API took."""
    found: list[str] = []

    def sent() -> bool:
        bodies = [m["Body"] for m in stack.twilio.received if m["To"] == SMS_RECIPIENT]
        found[:] = [m[1] for b in bodies if (m := re.search(r"Reply (ACK \d+)", b))]
        return f"ACK {alert_id}" in found

    wait_until(sent, 10, f"the SMS of incident {alert_id}")
    return f"ACK {alert_id}"


def _form(body: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming SMS (those the signature covers)."""
    return {"From": SMS_RECIPIENT, "To": "+15555550000", "Body": body,
            "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32}  # fmt: skip


def _reply(stack, body: str, signature: str | None) -> requests.Response:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    url = f"{stack.webhook}/twilio/inbound"
    return requests.post(url, data=_form(body), headers=headers, timeout=5)


def _signature(stack, body: str, token: str = AUTH_TOKEN) -> str:
    """Twilio's signature over the URL it calls and the fields, with `token`."""
    validator = RequestValidator(token)
    signature: str = validator.compute_signature(f"{stack.webhook}/twilio/inbound", _form(body))
    return signature


def test_a_signed_sms_reply_acknowledges_and_the_console_names_the_sender(stack, tab) -> None:
    alert_id, article = fired_on_console(stack, tab.page, "AckedBySms", "svc-sms")
    reply = _reply_asked(stack, alert_id)

    answer = _reply(stack, reply, _signature(stack, reply))
    assert answer.status_code == 200, answer.text
    assert f"acknowledged by {SMS_NAME} (sms)" in answer.text
    acked = article.locator("ol.timeline > li[data-kind=acknowledged]")
    expect(acked).to_contain_text(f"{SMS_NAME} (sms)", timeout=LIVE_TIMEOUT_MS)
    assert stack.incident("AckedBySms")["acked_by"] == f"{SMS_NAME} (sms)"


@pytest.mark.parametrize("signed", ["unsigned", "other-token", "other-body"])
def test_an_unsigned_or_wrongly_signed_reply_is_refused(stack, tab, signed: str) -> None:
    name = f"SmsRefused{signed.title().replace('-', '')}"
    stack.fire(name, f"svc-{signed}")
    alert_id = stack.alert_id(name)
    reply = _reply_asked(stack, alert_id)
    signature = {
        "unsigned": None,
        "other-token": _signature(stack, reply, token="not-the-auth-token"),
        "other-body": _signature(stack, "ACK 1"),  # signed, then the body changed
    }[signed]

    answer = _reply(stack, reply, signature)
    assert answer.status_code == 403
    assert stack.incident(name)["acked_at"] is None
    page = tab.page
    page.goto(f"{stack.webhook}/")
    expect(
        incident(page, alert_id).locator("ol.timeline > li[data-kind=acknowledged]")
    ).to_have_count(0)
