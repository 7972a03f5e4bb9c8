"""dashboard/messages.py: a delivery's text is what its channel's formatting
makes of the delivery and its alert — not a copy of it."""

from __future__ import annotations

import json
from typing import Any

from alert_webhook.app.channels import build_channels
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.dashboard.console import ConsoleAlert
from alert_webhook.dashboard.messages import MessageTexts
from alert_webhook.delivery.worker import DIGEST

SETTINGS = settings_from_mapping({"channels": {"sms": {"budget": {"max_messages": 3}}}}, {})
ALERT = ConsoleAlert(
    1, "ServiceUnavailable", "critical", "firing", {"instance": "api:8080", "service": "api"},
    {"summary": "api is down", "runbook_url": "https://example.org/rb"}, 100.0,
    starts_at="2026-11-28T09:03:31Z", generator_url="http://prom.example:9090/graph?g0.expr=up",
)  # fmt: skip


def _texts() -> MessageTexts:
    return MessageTexts(SETTINGS.links, build_channels(SETTINGS))


def _row(channel: str, **kw: Any) -> dict[str, Any]:
    return {"id": 7, "channel": channel, "recipient": "someone", "purpose": "notify",
            "event_status": "firing", "status": "delivered", "note": None, **kw}  # fmt: skip


def test_sms_and_email_read_as_they_were_sent() -> None:
    sms = _texts()(_row("sms"), ALERT)
    assert sms is not None and sms.startswith("CRITICAL ServiceUnavailable api:8080 api is down")
    assert len(sms) <= 160 and sms.endswith(SETTINGS.links.dashboard_url)
    email = _texts()(_row("email", event_status="resolved"), ALERT)
    assert email is not None and email.startswith("[RESOLVED] ServiceUnavailable on api:8080\n")
    assert "Prometheus: http://prom.example:9090/graph?g0.expr=up" in email
    assert "Runbook: https://example.org/rb" in email and "  service=api" in email


def test_the_log_and_chat_webhook_show_their_records_and_the_dashboard_nothing() -> None:
    line = json.loads(_texts()(_row("log", note="email delivery failed"), ALERT) or "")
    assert line["note"] == "email delivery failed" and line["delivery_id"] == 7
    body = json.loads(_texts()(_row("webhook"), ALERT) or "")
    assert body["summary"] == "api is down"
    assert _texts()(_row("dashboard"), ALERT) is None


def test_a_skipped_message_is_shown_without_the_reason_it_was_skipped() -> None:
    sms = _texts()(_row("sms", status="skipped", note="not configured: no providers"), ALERT)
    assert sms is not None and "not configured" not in sms


def test_a_storm_digest_reads_as_the_digest_it_was() -> None:
    sms = _texts()(_row("sms", note=DIGEST), ALERT)
    assert sms is not None and sms.startswith("STORM: 3 SMS sent, the limit; ServiceUnavailable")
