"""channels/format.py: what each channel says."""

from __future__ import annotations

import io
import json
import logging

from fakes import TWILIO_MAX_BODY
from hypothesis import given
from hypothesis import strategies as st
from support.line_breaks import hostile_text, one_line_in_every_reader

from alert_webhook.delivery.channels import Message
from alert_webhook.delivery.channels.ack_links import AckLink
from alert_webhook.delivery.channels.format import (
    _GSM7,
    SMS_CONCATENATED_SEGMENT,
    SMS_SEGMENT,
    email_html,
    email_text,
    gsm7,
    log_line,
    sms_text,
    subject,
)
from alert_webhook.delivery.channels.simple import Log
from alert_webhook.delivery.settings import LinkSettings
from alert_webhook.text import one_line


def message(**kw) -> Message:
    base = dict(
        delivery_id=7,
        channel="sms",
        recipient="+15555550100",
        purpose="notify",
        status="firing",
        alertname="DemoServiceDown",
        severity="critical",
        labels={"alertname": "DemoServiceDown", "instance": "db1:9100", "severity": "critical"},
        annotations={
            "summary": "Service db1 is down",
            "description": "demo_up has been 0 for 1m",
            "runbook_url": "https://example.org/runbooks/DemoServiceDown",
        },
        generator_url="http://127.0.0.1:9090/graph?g0.expr=up",
        starts_at="2026-11-28T09:03:31+00:00",
        links=LinkSettings(dashboard_url="http://127.0.0.1:9095/"),
        alert_id=42,
    )
    return Message(**{**base, **kw})


def test_sms_puts_severity_alert_and_target_first_and_the_link_last() -> None:
    text = sms_text(message())
    assert text.startswith("CRITICAL DemoServiceDown db1:9100")
    assert text.endswith("http://127.0.0.1:9095/")
    assert "Service db1 is down" in text


def test_sms_fits_one_gsm7_segment_even_with_long_unicode_summaries() -> None:
    long = message(annotations={"summary": "Ünïcødé “quotes” " * 30})
    text = sms_text(long)
    assert len(text) <= SMS_SEGMENT
    assert set(text) <= _GSM7
    assert text.endswith("http://127.0.0.1:9095/")


def test_resolved_and_notes_are_visible() -> None:
    text = sms_text(message(status="resolved", note="email delivery failed"))
    assert text.startswith("RESOLVED DemoServiceDown db1:9100 (email delivery failed)")
    assert subject(message(status="resolved")) == "[RESOLVED] DemoServiceDown on db1:9100"


def test_a_firing_sms_says_how_to_acknowledge_it_by_reply() -> None:
    text = sms_text(message())
    assert "Reply ACK 42 http://127.0.0.1:9095/" in text and len(text) <= SMS_SEGMENT
    long = sms_text(message(annotations={"summary": "very long summary " * 20}))
    assert long.endswith("Reply ACK 42 http://127.0.0.1:9095/") and len(long) <= SMS_SEGMENT


def test_only_a_firing_sms_of_a_known_incident_asks_for_an_ack() -> None:
    assert "ACK" not in sms_text(message(status="resolved"))
    assert "ACK" not in sms_text(message(digest_count=5))
    assert "ACK" not in sms_text(message(alert_id=None))


def test_digest_keeps_the_link_whatever_the_alertname() -> None:
    text = sms_text(message(digest_count=5, alertname="X" * 200))
    assert len(text) <= SMS_SEGMENT and text.endswith("http://127.0.0.1:9095/")


def test_digest_replaces_the_alert() -> None:
    text = sms_text(message(digest_count=5))
    assert text.startswith("STORM: 5 SMS sent, the limit; DemoServiceDown and later alerts")
    assert len(text) <= SMS_SEGMENT and text.endswith("http://127.0.0.1:9095/")


def test_email_has_summary_description_labels_runbook_and_prometheus_links() -> None:
    m = message(channel="email")
    for body in (email_text(m), email_html(m)):
        for needle in (
            "Service db1 is down",
            "demo_up has been 0 for 1m",
            "instance=db1:9100",
            "https://example.org/runbooks/DemoServiceDown",
            "http://127.0.0.1:9090/graph?g0.expr=up",
        ):
            assert needle in body


def test_email_html_escapes_label_values() -> None:
    m = message(labels={"alertname": "X", "instance": "<script>"})
    assert "<script>" not in email_html(m)


def test_log_line_is_one_json_object() -> None:
    line = log_line(message(channel="log"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["alertname"] == "DemoServiceDown" and data["severity"] == "critical"


def test_email_html_links_only_http_urls() -> None:
    hostile = {"summary": "s", "runbook_url": "javascript:alert(1)"}
    html = email_html(message(annotations=hostile, generator_url="httpx:alert(1)"))
    assert "href=" not in html.replace('href="http://127.0.0.1:9095/"', "")
    assert "javascript:alert(1)" in html  # shown as text
    good = email_html(message())
    assert '<a href="https://example.org/runbooks/DemoServiceDown">' in good


def test_email_carries_the_acknowledge_link_and_until_when_it_works() -> None:
    ack = AckLink("http://127.0.0.1:9095/ack/tok.sig", expires_at=1_800_086_400)
    m = message(channel="email")
    text, html = email_text(m, ack), email_html(m, ack)
    assert "Acknowledge: http://127.0.0.1:9095/ack/tok.sig" in text
    assert "2027-01-16 08:00 UTC" in text and "2027-01-16 08:00 UTC" in html
    assert '<a href="http://127.0.0.1:9095/ack/tok.sig">' in html


def test_email_without_a_link_says_nothing_of_one() -> None:
    m = message(channel="email")
    assert "Acknowledge" not in email_text(m) and "/ack/" not in email_html(m)


@given(alertname=hostile_text(min_size=1), instance=hostile_text(), summary=hostile_text())
def test_no_label_breaks_the_sms_or_the_log_line(alertname, instance, summary) -> None:
    m = message(
        alertname=alertname, labels={"alertname": alertname, "instance": instance},
        annotations={"summary": summary}, note=f"note {instance}",
    )  # fmt: skip
    assert one_line_in_every_reader(sms_text(m))
    assert one_line_in_every_reader(log_line(m))
    assert one_line_in_every_reader(subject(m))


@given(alertname=hostile_text(min_size=1), instance=hostile_text())
def test_a_logged_alert_is_one_line_of_the_log(alertname, instance) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test_format.log_channel")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    try:
        labels = {"alertname": alertname, "instance": instance}
        Log(logger).send(message(channel="log", alertname=alertname, labels=labels))
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line.split(" ", 4)[4])["labels"] == labels


def test_a_long_instance_gives_way_to_the_ack_instruction() -> None:
    """A 300-character instance pushed "Reply ACK 42" out of the first segment."""
    labels = {"alertname": "DemoServiceDown", "instance": "db1." + "a" * 300}
    text = sms_text(message(labels=labels))
    assert len(text) <= SMS_SEGMENT
    assert text.startswith("CRITICAL DemoServiceDown db1.aaa") and "... " in text
    assert text.endswith(" Reply ACK 42 http://127.0.0.1:9095/")


def _first_segment(text: str) -> str:
    # A GSM-7 text over one segment travels in parts of 153 (the rest is the header
    # that joins them).
    return text if len(text) <= SMS_SEGMENT else text[:SMS_CONCATENATED_SEGMENT]


@given(
    alertname=st.text(min_size=1, max_size=2500),
    instance=st.text(max_size=2500),
    summary=st.text(max_size=2500),
    note=st.none() | st.text(min_size=1, max_size=600),
    link_path=st.text("abc/", max_size=600),
    alert_id=st.none() | st.integers(1, 10**12),
    resolved=st.booleans(),
)
def test_every_sms_fits_twilio_with_the_ack_instruction_in_its_first_segment(
    alertname, instance, summary, note, link_path, alert_id, resolved
) -> None:
    link = f"https://alerts.example.org/{link_path}"
    m = message(
        alertname=alertname, labels={"alertname": alertname, "instance": instance},
        annotations={"summary": summary}, note=note, alert_id=alert_id,
        status="resolved" if resolved else "firing", links=LinkSettings(dashboard_url=link),
    )  # fmt: skip
    text = sms_text(m)
    assert len(text) <= TWILIO_MAX_BODY and set(text) <= _GSM7
    assert text.startswith("RESOLVED " if resolved else "CRITICAL ")
    assert gsm7(one_line(alertname))[:8] in text
    assert text.endswith(f" {link}")
    if len(link) <= 60:
        assert len(text) <= SMS_SEGMENT
    if alert_id is not None and not resolved:
        assert f"Reply ACK {alert_id} " in _first_segment(text)
