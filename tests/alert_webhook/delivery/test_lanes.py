"""delivery lanes (`lanes_for`, one worker per lane in the app): a hanging SMS
provider never delays e-mail. Real threads, the real clock, real peers."""

from __future__ import annotations

import threading
import time

from fakes import TWILIO_ENV, fake_twilio, smtp_provider, smtp_server, twilio_provider
from webhook_support import make_alert, make_notification

from alert_webhook import create_app
from alert_webhook.app.channels import build_channels
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.lanes import lanes_for
from alert_webhook.metrics.registry import create_metrics

ALERTS = 20


def test_each_channel_leaving_the_process_has_its_own_lane(make_settings) -> None:
    with smtp_server() as box:
        config = {"channels": {"email": {"providers": [smtp_provider(box)]}}}
        lanes = lanes_for(build_channels(make_settings(config)))
    assert [(lane.name, lane.channels, lane.others) for lane in lanes] == [
        ("deliveries", ("email",), True),  # dashboard, log, and sms (not configured)
        ("deliveries:email", ("email",), False),
    ]


def test_with_twilio_hanging_every_email_is_handed_over_while_the_sms_still_hangs(store) -> None:
    # The SMS requests hang for as long as the test says (their timeout is longer
    # than the test waits): if e-mail shared a lane with SMS, no e-mail queued
    # behind the first hanging SMS could go out before it is released. The speed
    # itself (p99 within 1 s) is bench/hanging_provider.py's to measure.
    with fake_twilio() as twilio, smtp_server() as box:
        twilio.mode = "hang"
        arrived = threading.Event()  # set as the last e-mail is being accepted

        def on_data() -> None:
            # The relay takes the first e-mail only once an SMS hangs: with a kept
            # connection every e-mail could otherwise be out before the SMS lane
            # tried at all, and the test would prove nothing.
            deadline = time.monotonic() + 10
            while not box.messages and not twilio.hanging and time.monotonic() < deadline:
                time.sleep(0.01)
            if len(box.messages) == ALERTS - 1:
                arrived.set()

        box.on_data = on_data
        config = {
            "channels": {
                "email": {"providers": [smtp_provider(box)], "recipients": ["oncall@example.org"]},
                "sms": {
                    "providers": [twilio_provider(twilio, timeout_seconds=30)],
                    "recipients": ["+15555550100"],
                },
            }
        }
        settings = settings_from_mapping(config, TWILIO_ENV)
        app = create_app(settings, store=store, metrics=create_metrics())
        workers = app.extensions["alert_webhook"].workers
        workers.start()
        try:
            client = app.test_client()
            for i in range(ALERTS):
                alert = make_alert(f"a{i}", instance=f"h{i}:9100")
                assert client.post("/alerts", json=make_notification(alert)).status_code == 200
            assert arrived.wait(10), f"only {len(box.messages)} of {ALERTS} e-mails arrived"
            assert not twilio.release.is_set(), "every SMS request is still hanging"
            assert twilio.hanging, "the SMS lane did try: the e-mails did not go first by luck"
        finally:
            twilio.release.set()  # the hanging requests end, so the SMS lane stops at once
            workers.stop()  # each lane finishes its pass: every outcome is recorded
    emails = [d for d in store.outbox.list() if d["channel"] == "email"]
    assert [d["status"] for d in emails] == ["delivered"] * ALERTS
