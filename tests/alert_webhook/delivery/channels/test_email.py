"""channels/email.py: a real SMTP server on loopback (aiosmtpd) receives the mail."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import SMTP as SMTP_POLICY
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fakes import MailBox, smtp_server, tls_smtp_server
from hypothesis import HealthCheck, given, settings
from support.line_breaks import LINE_BREAKS, hostile_text, one_line_in_every_reader
from support.procs import free_port
from test_format import message

from alert_webhook.delivery.channels import DeliveryError
from alert_webhook.delivery.channels.email import SmtpEmail, build, connect, tls_context
from alert_webhook.delivery.channels.format import subject
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


def test_a_relay_without_tls_builds_no_tls_context(box) -> None:
    # Loading the CA bundle for every mail was 37 % of the webhook's CPU in the
    # alert storm (issue 27): a relay that speaks no TLS needs no context at all.
    def no_context(ca_file: str | None) -> Any:
        raise AssertionError("a TLS context built for a relay without TLS")

    settings = SmtpProvider(name="relay1", host="127.0.0.1", port=box.port, security="none")
    SmtpEmail(settings, None, None, factory=lambda s: connect(s, context=no_context)).send(
        message(channel="email", recipient="oncall@example.org")
    )
    assert len(box.messages) == 1


@pytest.mark.integration
def test_mails_over_tls_share_one_context_per_ca_file(tmp_path) -> None:
    login = ("alerts", "pw-from-env")
    with tls_smtp_server(tmp_path, False, login) as (box, cert):
        settings = SmtpProvider(
            name="relay1", host="127.0.0.1", port=box.port, security="starttls", ca_file=str(cert)
        )
        built = tls_context.cache_info().misses
        for recipient in ("a@example.org", "b@example.org"):
            SmtpEmail(settings, *login).send(message(channel="email", recipient=recipient))
        assert len(box.messages) == 2
        assert tls_context.cache_info().misses == built + 1


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


def test_a_unicode_line_separator_in_a_label_still_reaches_the_relay(box) -> None:
    """U+2028 in alertname made the Subject invalid: no mail, retried, then dropped."""
    alert = message(
        channel="email", recipient="oncall@example.org", alertname="Disk\u2028Full",
        labels={"alertname": "Disk\u2028Full", "instance": "db1\u2029:9100"},
    )  # fmt: skip
    _email(box.port).send(alert)
    (mail,) = box.messages
    assert mail["Subject"] == "[CRITICAL] Disk Full on db1 :9100"


def test_every_line_break_in_alertname_and_instance_reaches_a_real_relay(box) -> None:
    """All 67 in one mail (one SMTP session): each followed by its number."""
    name = "Disk" + "".join(f"{char}{n}" for n, char in enumerate(LINE_BREAKS))
    where = "db1" + "".join(f"{char}:{n}" for n, char in enumerate(LINE_BREAKS))
    alert = message(channel="email", recipient="oncall@example.org", alertname=name,
                    labels={"alertname": name, "instance": where})  # fmt: skip
    _email(box.port).send(alert)
    (mail,) = box.messages
    numbers = range(len(LINE_BREAKS))
    said = (
        f"[CRITICAL] Disk {' '.join(map(str, numbers))} on db1 {' '.join(f':{n}' for n in numbers)}"
    )
    assert " ".join(mail["Subject"].split()) == said  # a long Subject arrives folded


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(alertname=hostile_text(min_size=1), instance=hostile_text(), other=hostile_text())
def test_the_built_mail_parses_back_with_its_subject_on_one_line(alertname, instance, other):
    labels = {"alertname": alertname, "instance": instance, "path": other}
    alert = message(channel="email", alertname=alertname, labels=labels, note=other or None)
    raw = build(alert, "alerts@example.org").as_bytes(policy=SMTP_POLICY)
    mail = message_from_bytes(raw, policy=default)
    # All but the spaces: the stdlib's folder drops a space between two encoded
    # words it splits a long non-ASCII subject into.
    assert "".join(mail["Subject"].split()) == "".join(subject(alert).split())
    assert one_line_in_every_reader(mail["Subject"])
    assert mail["To"] == "+15555550100"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    listed = text.split("\nLabels:\n", 1)[1].splitlines()
    assert [line.split("=", 1)[0] for line in listed] == ["  alertname", "  instance", "  path"]


def test_mails_in_a_row_share_one_connection_and_a_dropped_one_is_replaced() -> None:
    # Connecting (greeting, EHLO, QUIT; with TLS a handshake and a login too) for
    # every mail was half of sending one in the alert storm (issue 27, py-spy).
    opened: list[int] = []

    def counting(settings: SmtpProvider) -> Any:
        opened.append(1)
        return connect(settings)

    box = MailBox(port=free_port())
    relay = Controller(box, hostname="127.0.0.1", port=box.port)
    relay.start()
    try:
        settings = SmtpProvider(name="relay1", host="127.0.0.1", port=box.port, security="none")
        email = SmtpEmail(settings, None, None, factory=counting)
        for recipient in ("a@example.org", "b@example.org", "c@example.org"):
            email.send(message(channel="email", recipient=recipient))
        assert (len(box.messages), len(opened)) == (3, 1)
        relay.stop()  # the relay restarts: the connection kept is gone
        relay = Controller(box, hostname="127.0.0.1", port=box.port)
        relay.start()
        email.send(message(channel="email", recipient="d@example.org"))
        assert (len(box.messages), len(opened)) == (4, 2)
    finally:
        relay.stop()
