"""What messages say, for every channel; no transport here.

SMS: severity, alertname and target first, then how to acknowledge by reply
("Reply ACK 42", read by api/twilio_inbound.py), a link last, within one GSM-7
segment (160 characters) whenever the text allows; the summary is what gives way.
Email: everything known of the alert, and the acknowledge link when there is one.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from alert_webhook.delivery.channels import Message
from alert_webhook.delivery.channels.ack_links import AckLink, asks_for_ack
from alert_webhook.text import followable, one_line

SMS_SEGMENT = 160
# The GSM 03.38 basic character set: anything else forces UCS-2 (70 per segment).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def gsm7(text: str) -> str:
    """Replace characters outside GSM-7 so the text stays in 160-character segments."""
    return "".join(c if c in _GSM7 else "?" for c in text)


def _state(message: Message) -> str:
    return "RESOLVED" if message.status == "resolved" else (message.severity or "alert").upper()


def ack_reply_hint(message: Message) -> str:
    """What to reply to acknowledge (api/twilio_inbound.py reads it), when the
    message asks for an acknowledgement."""
    return f"Reply ACK {message.alert_id}" if asks_for_ack(message) else ""


def sms_text(message: Message) -> str:
    link = message.links.dashboard_url
    if message.digest_count:
        text = (
            f"STORM: {message.digest_count} SMS sent, the limit; {message.alertname} and "
            "later alerts only by email and on"
        )
        return gsm7(f"{text[: SMS_SEGMENT - len(link) - 1]} {link}")
    head = f"{_state(message)} {message.alertname}"
    if message.target:
        head += f" {message.target}"
    note = f" ({message.note})" if message.note else ""
    hint = ack_reply_hint(message)
    hint = f" {hint}" if hint else ""
    summary = message.annotations.get("summary", "")
    room = SMS_SEGMENT - len(head) - len(note) - len(hint) - len(link) - 2
    body = f"{head}{note}"
    if summary and room > 8:
        body += " " + (summary if len(summary) <= room - 1 else summary[: room - 2] + ".")
    return gsm7(f"{body}{hint} {link}")


def subject(message: Message) -> str:
    target = f" on {message.target}" if message.target else ""
    prefix = f"[{message.note}] " if message.note else ""
    return one_line(f"{prefix}[{_state(message)}] {message.alertname}{target}")


def _details(message: Message) -> list[tuple[str, str]]:
    a = message.annotations
    return [
        ("Summary", a.get("summary", "")),
        ("Description", a.get("description", "")),
        ("Status", message.status),
        ("Severity", message.severity or "none"),
        ("Started", message.starts_at),
        ("Runbook", a.get("runbook_url", "")),
        ("Prometheus", message.generator_url or message.links.prometheus_url),
        ("Dashboard", message.links.dashboard_url),
    ]


def _until(ack: AckLink) -> str:
    when = datetime.fromtimestamp(ack.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"asks to confirm; works until {when}"


def email_text(message: Message, ack: AckLink | None = None) -> str:
    lines = [subject(message), ""]
    if message.note:
        lines += [f"Note: {message.note}", ""]
    lines += [f"{k}: {v}" for k, v in _details(message) if v]
    if ack is not None:
        lines += ["", f"Acknowledge: {ack.url}", f"  ({_until(ack)})"]
    lines += ["", "Labels:"] + [f"  {k}={v}" for k, v in sorted(message.labels.items())]
    return "\n".join(lines) + "\n"


def email_html(message: Message, ack: AckLink | None = None) -> str:
    e = html.escape
    rows = []
    for key, value in _details(message):
        if not value:
            continue
        shown = f'<a href="{e(value)}">{e(value)}</a>' if followable(value) else e(value)
        rows.append(f"<tr><th align=left>{e(key)}</th><td>{shown}</td></tr>")
    labels = "".join(
        f"<li><code>{e(k)}={e(v)}</code></li>" for k, v in sorted(message.labels.items())
    )
    note = f"<p><strong>{e(message.note)}</strong></p>" if message.note else ""
    link = (
        f'<p><a href="{e(ack.url)}">Acknowledge incident {message.alert_id}</a> '
        f"({e(_until(ack))})</p>"
        if ack is not None
        else ""
    )
    return (
        f"<html><body><h2>{e(subject(message))}</h2>{note}"
        f"<table>{''.join(rows)}</table>{link}<h3>Labels</h3><ul>{labels}</ul></body></html>"
    )


def record(message: Message) -> dict[str, Any]:
    """The structured form: the log line and the chat webhook's JSON body."""
    return {
        "delivery_id": message.delivery_id,
        "purpose": message.purpose,
        "status": message.status,
        "alertname": message.alertname,
        "severity": message.severity,
        "target": message.target,
        "summary": message.annotations.get("summary", ""),
        "runbook_url": message.annotations.get("runbook_url", ""),
        "labels": message.labels,
        "note": message.note,
        "dashboard_url": message.links.dashboard_url,
        "text": subject(message),
    }


def log_line(message: Message) -> str:
    return json.dumps({"event": "alert_notification", **record(message)}, sort_keys=True)
