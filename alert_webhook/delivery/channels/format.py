"""What messages say, for every channel; no transport here.

SMS: severity, alertname and target first, then how to acknowledge by reply
("Reply ACK 42", read by api/twilio_inbound.py), a link last, built to fit one
segment of 160 characters: the summary gives way first, then the labels are cut
short with "...". Every SMS is GSM-7 (`gsm7`: anything else becomes "?"), so a
segment is never the 70 characters of UCS-2. Only a long dashboard link makes it
longer; then the ack instruction still ends within the first 153 characters (a
segment of a concatenated message), and the body never passes Twilio's 1,600.
Email: everything known of the alert, and the acknowledge link when there is one.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alert_webhook.delivery.channels import Message
from alert_webhook.delivery.channels.ack_links import AckLink, asks_for_ack
from alert_webhook.text import followable, one_line

SMS_SEGMENT = 160
# A GSM-7 text longer than one segment travels in parts of 153 characters (the rest
# of each is the header that joins them): what must be read first goes in 153.
SMS_CONCATENATED_SEGMENT = 153
# Twilio refuses a longer body (error 21617).
SMS_MAX = 1600
# GSM-7 has no "…"; a part cut shorter than this says nothing and is left out.
ELLIPSIS = "..."
SMS_LEAST_SHOWN = 8
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


@dataclass(frozen=True)
class _Part:
    """One piece of an SMS: its text (one line, GSM-7) and how it is written."""

    text: str
    wrap: str = "{}"

    def shown(self) -> str:
        return self.wrap.format(self.text) if self.text else ""


def _width(parts: Sequence[_Part]) -> int:
    return len(" ".join(shown for part in parts if (shown := part.shown())))


def _cut(parts: list[_Part], gives_way: Sequence[tuple[int, int]], room: int) -> list[_Part]:
    """`parts` made to fit `room`: each (index, floor) of `gives_way` in turn is cut
    short (with an ellipsis), down to `floor` characters; a part cut to fewer than
    `SMS_LEAST_SHOWN` goes altogether."""
    parts = list(parts)
    for index, floor in gives_way:
        excess = _width(parts) - room
        if excess <= 0:
            break
        text = parts[index].text
        keep = max(floor, len(text) - excess)
        if keep >= len(text):
            continue
        short = text[: keep - len(ELLIPSIS)] + ELLIPSIS if keep >= SMS_LEAST_SHOWN else ""
        parts[index] = _Part(short, parts[index].wrap)
    return parts


def _fit(lead: list[_Part], gives_way: Sequence[Sequence[tuple[int, int]]], tail: list[str]) -> str:
    """`lead` (the first part is never cut) then `tail` (the ack instruction, then the
    link), cut to one segment when that keeps every part at its floor, else with
    the tail's first item inside the first of several segments."""
    end = " ".join(t for t in tail if t)
    ack = tail[0] if len(tail) > 1 and tail[0] else ""
    rooms = (
        SMS_SEGMENT - len(end) - 1,
        min(SMS_CONCATENATED_SEGMENT - (len(ack) + 1 if ack else 0), SMS_MAX - len(end) - 1),
    )
    for room in rooms:
        for passes in range(1, len(gives_way) + 1):
            fitted = _cut(lead, [step for rule in gives_way[:passes] for step in rule], room)
            if _width(fitted) <= room:
                text = " ".join(s for part in fitted if (s := part.shown()))
                return f"{text} {end}"
    return " ".join([lead[0].shown(), end])[:SMS_MAX]  # a link of thousands of characters


def _sms_line(text: str) -> str:
    return gsm7(one_line(text))


def sms_text(message: Message) -> str:
    """The SMS, built to fit (see the module's docstring): severity, alert name,
    acknowledgement instruction and link always there; the summary gives way
    first, then the target, the note and the alert name are cut short."""
    link = _sms_line(message.links.dashboard_url)
    name = _Part(_sms_line(message.alertname))
    if message.digest_count:
        storm = _Part(f"STORM: {message.digest_count} SMS sent, the limit;")
        rest = _Part("and later alerts only by email and on")
        return _fit([storm, name, rest], [[(1, 16), (2, 0)], [(1, SMS_LEAST_SHOWN)]], [link])
    lead = [
        _Part(_state(message)),
        name,
        _Part(_sms_line(message.target)),
        _Part(_sms_line(message.note or ""), "({})"),
        _Part(_sms_line(message.annotations.get("summary", ""))),
    ]
    gives_way = [[(4, 0), (2, 16), (3, 16), (1, 24)], [(2, 0), (3, 0), (1, SMS_LEAST_SHOWN)]]
    return _fit(lead, gives_way, [ack_reply_hint(message), link])


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
    # One line per label, whatever its value says: none can pose as another line.
    lines += ["", "Labels:"] + [f"  {k}={one_line(v)}" for k, v in sorted(message.labels.items())]
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
