"""The delivery lanes claim by severity, then age: with a real SMTP server (aiosmtpd)
working through a backlog of highs, a critical's e-mail goes out long before the
backlog drains. Real threads, the real clock, a real peer. (The order itself, on a
fake clock: test_outbox.py.)"""

from __future__ import annotations

import threading
import time

import pytest
from fakes import MailBox, smtp_provider, smtp_server
from webhook_support import make_alert, make_notification

from alert_webhook import create_app
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.metrics.registry import create_metrics

pytestmark = pytest.mark.integration

HIGHS = 300
RELAY_SECONDS = 0.01  # each message: a relay of ~100 messages/s, so the highs take ~3 s


def _arrived(box: MailBox, prefix: str, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if any(m["Subject"].startswith(prefix) for m in list(box.messages)):
            return True
        time.sleep(0.02)
    return False


def test_a_critical_email_overtakes_a_backlog_of_highs(store) -> None:
    with smtp_server() as box:
        box.delay = RELAY_SECONDS
        started = threading.Event()
        box.on_data = started.set  # as the first message is being accepted
        config = {
            "channels": {
                "email": {"providers": [smtp_provider(box)], "recipients": ["oncall@example.org"]}
            }
        }
        app = create_app(settings_from_mapping(config, {}), store=store, metrics=create_metrics())
        workers = app.extensions["alert_webhook"].workers
        workers.start()
        try:
            client = app.test_client()
            highs = [make_alert(f"h{i}", severity="high", instance=f"h{i}:9100")
                     for i in range(HIGHS)]  # fmt: skip
            assert client.post("/alerts", json=make_notification(*highs)).status_code == 200
            assert started.wait(10), "the e-mail lane never began on the backlog"
            crit = make_alert("crit", severity="critical", instance="db1:9100")
            assert client.post("/alerts", json=make_notification(crit)).status_code == 200
            assert _arrived(box, "[CRITICAL]", within=60), "the critical never arrived"
        finally:
            workers.stop()
    subjects = [m["Subject"] for m in box.messages]
    position = next(n for n, s in enumerate(subjects) if s.startswith("[CRITICAL]"))
    # Taken in the lane's next batch (50 by default), not behind the 300 highs.
    assert position < HIGHS // 2, (position, len(subjects))
    assert len(subjects) < HIGHS, "the backlog had drained already: nothing was overtaken"
