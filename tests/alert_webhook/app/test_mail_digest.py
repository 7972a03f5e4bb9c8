"""app/mail_digest.py: the weekly noise digest through the email channel to a
real SMTP server on loopback (aiosmtpd), and its loop only when enabled."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fakes import smtp_provider, smtp_server
from webhook_support import FakeClock

sys.path.insert(0, str(Path(__file__).parent.parent / "reports"))
from noise_support import HOUR, deliver, fire, resolve  # noqa: E402

from alert_webhook.app.channels import build_channels  # noqa: E402
from alert_webhook.app.mail_digest import DIGEST_LOOP, build_digest  # noqa: E402
from alert_webhook.delivery.lanes import provider_breakers  # noqa: E402
from alert_webhook.metrics.registry import create_metrics  # noqa: E402

MONDAY_8 = datetime(2026, 11, 30, 8, tzinfo=UTC).timestamp()  # week 49's digest is due
HOSTILE = 'Disk\r\nBcc: evil@example.org\r\n<b onmouseover="x">[x](javascript:alert(1))</b>'


@pytest.fixture
def box():
    with smtp_server() as box:
        yield box


def config(*providers, **digest) -> dict:
    return {
        "channels": {"email": {"providers": list(providers), "recipients": ["oncall@example.org"]}},
        "reports": {"digest": {"enabled": True, **digest}},
        "links": {"dashboard_url": "https://alerts.example.org/"},
    }


def weekly(settings, store, clock):
    channels = build_channels(settings)
    breakers = provider_breakers(channels, settings.delivery.breaker, create_metrics(), clock)
    digest = build_digest(settings, store, channels, breakers, clock, rand=lambda: 0.5)
    assert digest is not None
    return digest, breakers


def a_noisy_week(store) -> None:
    labels = {"alertname": HOSTILE, "service": "db", "severity": "high"}
    for n in range(3):
        alert = fire(store, f"fp{n}", n * HOUR, **labels)
        deliver(store, alert)
        resolve(store, f"fp{n}", n * HOUR, n * HOUR + 600, **labels)


def test_the_digest_arrives_as_plain_text_with_every_header_its_own(
    box, store, make_settings
) -> None:
    a_noisy_week(store)
    team = ["team@example.org", "lead@example.org"]
    relay = smtp_provider(box, sender="alerts@example.org")
    settings = make_settings(config(relay, recipients=team))
    clock = FakeClock(MONDAY_8)
    digest, _ = weekly(settings, store, clock)
    digest.run_once()
    digest.run_once()
    digest.run_once()  # nothing more: the week is sent
    assert sorted(to for _, (to,) in box.envelopes) == ["lead@example.org", "team@example.org"]
    # Read as a mail client reads it: headers unfolded and decoded.
    mail = message_from_bytes(box.messages[0].as_bytes(), policy=policy.default)
    assert mail["From"] == "alerts@example.org"
    assert mail["Bcc"] is None and box.envelopes[0][0] == "alerts@example.org"
    assert mail["Subject"] == (
        "[noise report] 2026-W49: 3 fired, 3 never acted on; worst: Disk Bcc: evil@example.org "
        '<b onmouseover="x">[x](javascrip…'
    )
    assert mail["Message-ID"].startswith("<digest-2026-W49.")
    assert [p.get_content_type() for p in mail.walk()] == ["text/plain"]
    text = mail.get_content().replace("\r\n", "\n")
    assert "Noise report, 2026-11-23 08:00 UTC to 2026-11-30 08:00 UTC" in text
    assert "Disk Bcc: evil@example.org <b onmouseov…      3" in text
    assert "https://alerts.example.org/reports/noise?since=7d" in text
    assert {r["status"] for r in store.digests.list()} == {"sent"}
    assert {r["provider"] for r in store.digests.list()} == {"relay1"}


def test_a_dead_relay_fails_over_to_the_next_and_its_breaker_counts(
    box, store, make_settings
) -> None:
    a_noisy_week(store)
    with smtp_server() as gone:
        dead = smtp_provider(gone, name="dead", timeout_seconds=2)
    settings = make_settings(config(dead, smtp_provider(box, name="relay2")))
    clock = FakeClock(MONDAY_8)
    digest, breakers = weekly(settings, store, clock)
    digest.run_once()
    assert len(box.messages) == 1
    [row] = store.digests.list()
    assert (row["status"], row["provider"]) == ("sent", "relay2")
    assert breakers["email:relay2"].state == "closed"


def test_the_recipients_default_to_the_email_channels(box, store, make_settings) -> None:
    a_noisy_week(store)
    settings = make_settings(config(smtp_provider(box)))
    digest, _ = weekly(settings, store, FakeClock(MONDAY_8))
    digest.run_once()
    assert box.envelopes[0][1] == ["oncall@example.org"]


def test_the_loop_runs_only_when_enabled(app_factory) -> None:
    assert DIGEST_LOOP not in app_factory().extensions["alert_webhook"].workers.loops
    on = {"channels": {"email": {"recipients": ["oncall@example.org"]}},
          "reports": {"digest": {"enabled": True}}}  # fmt: skip
    assert DIGEST_LOOP in app_factory(on).extensions["alert_webhook"].workers.loops


def test_enabled_without_anyone_to_send_to_is_a_config_error(make_settings) -> None:
    with pytest.raises(Exception) as exc:
        make_settings({"reports": {"digest": {"enabled": True}}})
    assert "reports.digest.recipients: the digest is enabled but has no one" in str(exc.value)


def test_a_recipient_must_be_one_address(make_settings) -> None:
    with pytest.raises(Exception) as exc:
        make_settings({"reports": {"digest": {"recipients": ["a@x.org\r\nBcc: b@y.org"]}}})
    assert "reports.digest.recipients" in str(exc.value)
    assert "is not one email address" in str(exc.value)
