"""channels/email.py: a real SMTP server on loopback (aiosmtpd) receives the mail."""

from __future__ import annotations

import pytest
from fakes import smtp_server, tls_smtp_server
from test_format import message

from alert_webhook.delivery.channels import DeliveryError
from alert_webhook.delivery.channels.email import SmtpEmail
from alert_webhook.delivery.settings import SmtpProvider


@pytest.fixture
def box():
    with smtp_server() as box:
        yield box


def _email(port: int) -> SmtpEmail:
    settings = SmtpProvider(
        name="relay1", host="127.0.0.1", port=port, security="none", sender="alerts@example.org"
    )
    return SmtpEmail(settings, None, None)


def test_mail_arrives_with_text_and_html_parts(box) -> None:
    msg_id = _email(box.port).send(message(channel="email", recipient="oncall@example.org"))
    (mail,) = box.messages
    assert box.envelopes == [("alerts@example.org", ["oncall@example.org"])]
    assert mail["Subject"] == "[CRITICAL] DemoServiceDown on db1:9100"
    assert mail["Message-ID"] == msg_id == "<delivery-7.notify@recovery-stack>"
    types = [part.get_content_type() for part in mail.walk()]
    assert "text/plain" in types and "text/html" in types


def test_rejected_recipient_is_permanent_and_the_recipients_problem(box) -> None:
    box.reject.add("gone@example.org")
    with pytest.raises(DeliveryError) as exc:
        _email(box.port).send(message(channel="email", recipient="gone@example.org"))
    assert (exc.value.retryable, exc.value.scope) == (False, "recipient")
    assert box.messages == []


def test_unreachable_relay_is_retryable() -> None:
    with smtp_server() as box:
        port = box.port
    with pytest.raises(DeliveryError) as exc:
        _email(port).send(message(channel="email", recipient="oncall@example.org"))
    assert exc.value.retryable and exc.value.scope == "provider"


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.integration
def test_tls_and_login_from_the_environment(tmp_path, security: str) -> None:
    login = ("alerts", "pw-from-env")
    with tls_smtp_server(tmp_path, security == "tls", login) as (box, cert):
        settings = SmtpProvider(
            name="relay1", host="127.0.0.1", port=box.port, security=security, ca_file=str(cert)
        )
        SmtpEmail(settings, *login).send(message(channel="email", recipient="oncall@example.org"))
        assert len(box.messages) == 1
        with pytest.raises(DeliveryError) as exc:
            SmtpEmail(settings, "alerts", "wrong").send(
                message(channel="email", recipient="x@example.org")
            )
        assert not exc.value.retryable and "authentication" in exc.value.reason
        assert "wrong" not in exc.value.reason


@pytest.mark.integration
def test_an_untrusted_certificate_is_refused(tmp_path) -> None:
    with tls_smtp_server(tmp_path, True, ("a", "b")) as (box, _cert):
        settings = SmtpProvider(name="relay1", host="127.0.0.1", port=box.port, security="tls")
        with pytest.raises(DeliveryError) as exc:
            SmtpEmail(settings, "a", "b").send(message(channel="email", recipient="x@example.org"))
        assert "CERTIFICATE_VERIFY_FAILED" in exc.value.reason


def test_a_plain_mail_keeps_outside_text_out_of_its_headers(box) -> None:
    """The digest's mail: a subject built from label values cannot add a header."""
    hostile = "[noise report] worst: Disk\r\nBcc: evil@example.org\r\n\r\nbody?"
    provider_id = _email(box.port).send_text(
        "oncall@example.org", hostile, "Line one\nBcc: not a header\n", "<digest-2026-W49.1@x>"
    )
    (mail,) = box.messages
    assert provider_id == "<digest-2026-W49.1@x>"
    assert box.envelopes == [("alerts@example.org", ["oncall@example.org"])]
    assert mail["Bcc"] is None
    assert mail["Subject"] == "[noise report] worst: Disk Bcc: evil@example.org body?"
    assert [p.get_content_type() for p in mail.walk()] == ["text/plain"]
    assert mail.get_payload(decode=True).decode().splitlines() == ["Line one", "Bcc: not a header"]
