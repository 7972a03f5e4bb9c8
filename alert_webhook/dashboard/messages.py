"""The text each delivery carried (or would have carried, when it was skipped or
has not gone yet), rendered by the channels' own formatting from the delivery's
row and its alert as stored, so the page shows what people read.

The dashboard's deliveries carry no text of their own: the page is the message.
A storm digest's count is not stored; it was the budget's limit when it went.
A skipped delivery's note says why it was skipped, in place of the note its
message would have carried, so its text is shown without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from alert_webhook.dashboard.console import ConsoleAlert
from alert_webhook.delivery.channels import Channel, Message
from alert_webhook.delivery.channels.format import email_text, log_line, record, sms_text
from alert_webhook.delivery.rows import DeliveryStatus
from alert_webhook.delivery.settings import LinkSettings
from alert_webhook.delivery.worker import DIGEST


def _webhook_body(message: Message) -> str:
    return json.dumps(record(message), indent=2, sort_keys=True)


TEXTS: dict[str, Callable[[Message], str]] = {
    "sms": sms_text,
    "email": email_text,
    "log": log_line,
    "webhook": _webhook_body,
}


class MessageTexts:
    """`texts(row, alert)`: what a delivery says on its channel, or None for a
    channel whose message is not text (the dashboard)."""

    def __init__(self, links: LinkSettings, channels: Mapping[str, Channel]) -> None:
        self.links = links
        sms = channels.get("sms")
        self.digest_count = sms.budget.max_messages if sms and sms.budget else 0

    def __call__(self, row: Mapping[str, Any], alert: ConsoleAlert) -> str | None:
        render = TEXTS.get(str(row["channel"]))
        if render is None:
            return None
        digest = self.digest_count if row.get("note") == DIGEST else 0
        note = None if digest or row["status"] == DeliveryStatus.SKIPPED else row.get("note")
        message = Message(
            delivery_id=row["id"], channel=row["channel"], recipient=row["recipient"],
            purpose=row["purpose"], status=row["event_status"], alertname=alert.alertname,
            severity=alert.severity, labels=alert.labels, annotations=alert.annotations,
            generator_url=alert.generator_url, starts_at=alert.starts_at, links=self.links,
            note=note, digest_count=digest,
        )  # fmt: skip
        return render(message)
