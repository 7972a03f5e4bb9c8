"""api/twilio_inbound.py: "ACK 42" replied to an SMS acknowledges incident 42.

Signatures are computed by twilio's own `RequestValidator` with the auth token
the SMS channel uses, exactly as Twilio signs its webhook requests.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fakes import AUTH_TOKEN, TWILIO_ENV, fake_twilio, twilio_provider
from flask import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from webhook_support import make_alert, make_notification
from werkzeug.formparser import FormDataParser

from alert_webhook.api.twilio_inbound import MAX_FORM_BYTES, MAX_FORM_FIELDS, VALIDATOR
from alert_webhook.delivery.phone_numbers import e164

URL = "http://localhost/twilio/inbound"  # what the test client requests
ALICE = "+15555550100"
LEAD = "+15555550199"
CONFIG: dict[str, Any] = {
    "channels": {
        "sms": {
            "providers": [{"name": "twilio1", "from_number": "+15555550000"}],
            "recipients": ["+1 (555) 555-0100"],  # as a person may write it
            "escalation_recipients": [LEAD],
            "names": {ALICE: "alice"},
        }
    }
}


@pytest.fixture
def app(app_factory):
    app = app_factory(CONFIG, env=TWILIO_ENV)
    app.test_client().post("/alerts", json=make_notification(make_alert("a")))
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def form(body: str | None = "ACK 1", sender: str | None = ALICE) -> dict[str, str]:
    fields = {"MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32, "To": "+15555550000"}
    if sender is not None:
        fields["From"] = sender
    if body is not None:
        fields["Body"] = body
    return fields


def sign(fields: dict[str, str], url: str = URL, token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, fields)}


def reply(client: Any, fields: dict[str, str], **headers: str) -> Any:
    return client.post("/twilio/inbound", data=fields, headers=headers or sign(fields))


def said(resp: Any) -> str:
    """The text of the TwiML `<Message>` the webhook answered with."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype in ("application/xml", "text/xml")
    root = ET.fromstring(resp.get_data())
    assert root.tag == "Response"
    (message,) = root.iter("Message")
    return message.text or ""


def acked_by(client: Any, alert_id: int = 1) -> str | None:
    incidents = {i["alert_id"]: i for i in client.get("/api/incidents").get_json()["incidents"]}
    return incidents[alert_id]["acked_by"]


def test_a_signed_ack_from_a_known_recipient_acknowledges_by_their_name(client, clock) -> None:
    text = said(reply(client, form("ACK 1")))
    assert "Incident 1 acknowledged" in text and "alice" in text
    assert acked_by(client) == "alice (sms)"
    (incident,) = client.get("/api/incidents").get_json()["incidents"]
    assert incident["acked_at"] == clock.now


def test_the_alert_sms_says_what_to_reply_and_that_reply_acknowledges(app_factory) -> None:
    """The whole loop: the firing SMS goes out through the twilio client to a
    loopback Messages API; its text names the reply, and the reply acknowledges."""
    with fake_twilio() as twilio:
        sms = {**CONFIG["channels"]["sms"], "providers": [twilio_provider(twilio)]}
        app = app_factory({"channels": {"sms": sms}}, env=TWILIO_ENV)
        client = app.test_client()
        client.post("/alerts", json=make_notification(make_alert("a"), make_alert("b")))
        app.extensions["alert_webhook"].workers.run_once()
        sent = {m["Body"] for m in twilio.received if e164(m["To"]) == ALICE}
    assert len(sent) == 2 and all(len(text) <= 160 for text in sent)
    hints = sorted(text.split("Reply ")[1].split(" http")[0] for text in sent)
    assert hints == ["ACK 1", "ACK 2"]
    assert "acknowledged" in said(reply(client, form("ACK 2")))
    assert (acked_by(client, 1), acked_by(client, 2)) == (None, "alice (sms)")


@pytest.mark.parametrize("body", ["ack 1", "  Ack\t 1  ", "ACK1", "\nACK 1\n"])
def test_the_reply_is_read_case_insensitively_and_whitespace_tolerantly(client, body) -> None:
    assert "acknowledged" in said(reply(client, form(body)))
    assert acked_by(client) == "alice (sms)"


def test_a_second_ack_says_who_acknowledged_first(client, clock) -> None:
    reply(client, form("ACK 1"))
    clock.advance(60)
    text = said(reply(client, form("ACK 1", sender=LEAD)))
    assert "already acknowledged" in text and "alice (sms)" in text
    assert acked_by(client) == "alice (sms)"


def test_a_recipient_without_a_name_is_recorded_by_number(client) -> None:
    said(reply(client, form("ACK 1", sender=LEAD)))
    assert acked_by(client) == f"{LEAD} (sms)"


@pytest.mark.parametrize("body", ["ACK 99", "ACK 2147483648", "ACK 99999999999999999999999999"])
def test_an_unknown_or_impossible_incident_is_answered_not_a_500(client, body) -> None:
    number = body.split()[1]
    assert f"No incident {number}" in said(reply(client, form(body)))
    assert acked_by(client) is None


@pytest.mark.parametrize(
    "body", ["", "hello", "ACK", "ACK one", "ACK 1 2", "ACK -1", "ACK ¹", "STOP", "x" * 1601]
)
def test_anything_else_is_answered_with_how_to_reply(client, body) -> None:
    assert "reply ACK <number>" in said(reply(client, form(body)))
    assert acked_by(client) is None


def test_a_message_without_a_body_is_answered_with_how_to_reply(client) -> None:
    assert "reply ACK <number>" in said(reply(client, form(body=None)))


def test_a_request_without_a_sender_is_400(client) -> None:
    resp = reply(client, form(sender=None))
    assert resp.status_code == 400 and "From" in resp.get_json()["error"]
    assert acked_by(client) is None


def test_an_unknown_sender_is_refused_politely_and_nothing_acknowledged(client) -> None:
    text = said(reply(client, form("ACK 1", sender="+15555550123")))
    assert "not on the on-call list" in text and "nothing was acknowledged" in text
    assert acked_by(client) is None


def test_a_sender_not_in_e164_matches_nobody(client) -> None:
    assert "not on the on-call list" in said(reply(client, form("ACK 1", sender="5555550100")))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "not-a-signature"},
        sign(form("ACK 1"), token="another-accounts-token"),
        sign(form("ACK 1"), url="http://localhost/elsewhere"),
        sign(form("ACK 99")),  # the body was changed after signing
    ],
    ids=["unsigned", "empty", "garbage", "other-token", "other-url", "altered-body"],
)
def test_an_unsigned_or_wrongly_signed_request_is_403(client, headers) -> None:
    resp = client.post("/twilio/inbound", data=form("ACK 1"), headers=headers)
    assert resp.status_code == 403
    assert "X-Twilio-Signature" in resp.get_json()["error"]
    assert acked_by(client) is None


def test_without_a_twilio_auth_token_nothing_can_be_verified(app_factory) -> None:
    client = app_factory(CONFIG).test_client()  # no TWILIO_AUTH_TOKEN in the environment
    client.post("/alerts", json=make_notification(make_alert("a")))
    resp = reply(client, form("ACK 1"))
    assert resp.status_code == 403 and "auth token" in resp.get_json()["error"]
    assert acked_by(client) is None


def test_behind_a_proxy_the_signed_url_is_the_public_one(app_factory) -> None:
    public = {**CONFIG, "links": {"public_url": "https://alerts.example.org/webhook"}}
    client = app_factory(public, env=TWILIO_ENV).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    signed_locally = reply(client, form("ACK 1"))
    assert signed_locally.status_code == 403
    twilio_signed = sign(form("ACK 1"), url="https://alerts.example.org/webhook/twilio/inbound")
    assert "acknowledged" in said(reply(client, form("ACK 1"), **twilio_signed))


def test_the_public_urls_host_is_an_allowed_host(app_factory) -> None:
    public = {**CONFIG, "links": {"public_url": "https://alerts.example.org/"}}
    client = app_factory(public, env=TWILIO_ENV).test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    fields = form("ACK 1")
    resp = client.post(
        "/twilio/inbound",
        base_url="https://alerts.example.org",
        data=fields,
        headers=sign(fields, url="https://alerts.example.org/twilio/inbound"),
    )
    assert "acknowledged" in said(resp)


def test_it_is_exempt_from_csrf_even_when_every_post_is_checked(app, client) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = True
    assert "acknowledged" in said(reply(client, form("ACK 1")))


def test_the_host_and_origin_guards_still_apply(client) -> None:
    fields = form("ACK 1")
    foreign = client.post(
        "/twilio/inbound", data=fields, headers={**sign(fields), "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    rebound = client.post(
        "/twilio/inbound", base_url="http://rebound.example", data=fields, headers=sign(fields)
    )
    assert rebound.status_code == 400
    assert acked_by(client) is None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(max_size=300), sender=st.text(max_size=30))
def test_whatever_a_signed_request_carries_is_answered_never_a_5xx(client, body, sender) -> None:
    fields = form(body, sender)
    resp = reply(client, fields)
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)


# --- Limits: a form Twilio would never send is refused before it is parsed ---


class CountingValidator(RequestValidator):
    """twilio's own validator, counting the checks it is asked for."""

    checks = 0

    def validate(self, *args: Any, **kwargs: Any) -> bool:
        type(self).checks += 1
        return bool(super().validate(*args, **kwargs))


class CountingParser(FormDataParser):
    parses = 0

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        type(self).parses += 1
        return super().parse(*args, **kwargs)


class CountingRequest(Request):
    form_data_parser_class = CountingParser


@pytest.fixture
def counted(app) -> Iterator[tuple[type[CountingValidator], type[CountingParser]]]:
    """The app with twilio's validator and werkzeug's form parser counted."""
    CountingValidator.checks = CountingParser.parses = 0
    app.extensions[VALIDATOR] = CountingValidator
    app.request_class = CountingRequest
    yield CountingValidator, CountingParser


def giant_form(fields: int) -> bytes:
    return "&".join(f"f{i}=v" for i in range(fields)).encode()


def test_a_giant_form_is_refused_413_before_it_is_parsed_or_checked(client, counted) -> None:
    validator, parser = counted
    data = giant_form(500_000)  # ~4.9 MB, as the probe sent
    resp = client.post(
        "/twilio/inbound",
        data=data,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "anything"},
    )
    assert resp.status_code == 413
    assert resp.get_json()["error"] == f"form larger than {MAX_FORM_BYTES} bytes"
    assert (validator.checks, parser.parses) == (0, 0)
    assert acked_by(client) is None


def test_a_small_form_with_too_many_fields_is_400_before_it_is_parsed(client, counted) -> None:
    validator, parser = counted
    data = giant_form(MAX_FORM_FIELDS + 1)
    assert len(data) < MAX_FORM_BYTES
    resp = client.post(
        "/twilio/inbound",
        data=data,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "anything"},
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == f"form has more than {MAX_FORM_FIELDS} fields"
    assert (validator.checks, parser.parses) == (0, 0)


def test_a_body_sent_without_content_length_is_bounded_too(client, counted) -> None:
    """A chunked body, from a server that ends the stream itself (waitress does,
    and tells its length too): read no further than the limit."""
    validator, parser = counted
    resp = client.post(
        "/twilio/inbound",
        input_stream=io.BytesIO(giant_form(50_000)),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "anything", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 413
    assert (validator.checks, parser.parses) == (0, 0)


def test_a_form_that_is_not_urlencoded_is_415(client, counted) -> None:
    resp = client.post(
        "/twilio/inbound", data=b"{}", content_type="application/json",
        headers={"X-Twilio-Signature": "anything"},
    )  # fmt: skip
    assert resp.status_code == 415
    assert "application/x-www-form-urlencoded" in resp.get_json()["error"]
    assert counted[0].checks == 0


def test_a_correctly_signed_small_reply_is_checked_and_acknowledges(client, counted) -> None:
    assert "acknowledged" in said(reply(client, form("ACK 1")))
    assert counted[0].checks == 1 and counted[1].parses == 1


def test_a_signed_form_just_under_both_limits_is_answered(client, counted) -> None:
    fields = form("ACK 1")
    fields.update({f"Extra{i}": "x" for i in range(MAX_FORM_FIELDS - len(fields) - 1)})
    fields["Padding"] = ""
    fields["Padding"] = "p" * (MAX_FORM_BYTES - len(urlencode(fields).encode()))
    assert len(fields) == MAX_FORM_FIELDS and len(urlencode(fields)) == MAX_FORM_BYTES
    assert "acknowledged" in said(reply(client, fields))
    assert counted[0].checks == 1
