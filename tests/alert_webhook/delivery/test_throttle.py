"""A provider answering 429 is throttling, not failing (the plan: "monitor API
response headers; if rate limited, back off"): its Retry-After (seconds or an HTTP
date) is the soonest next try, capped at the delivery's give-up time; no breaker
trips, nothing fails over, and the outcome says so. The worker with the real twilio
client against a loopback Messages API, on a fake clock."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from fakes import TWILIO_ENV, fake_twilio, smtp_server, twilio_provider
from test_worker import Harness, config
from webhook_support import make_alert

SMS = ("firing", "sms", "notify")


@pytest.fixture
def twilio():
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def box():
    with smtp_server() as box:
        yield box


def _breaker(h: Harness) -> float | None:
    return h.metric("alert_webhook_circuit_breaker_state", provider="sms:twilio1")


def test_a_429_with_retry_after_waits_that_long_and_the_batch_does_not_ask_again(
    store, clock, box, twilio
) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.queue, twilio.retry_after = ["rate_limited"], "30"  # then it accepts again
    h.receive(*(make_alert(f"a{n}", instance=f"h{n}:9100") for n in range(5)))
    h.run()
    assert twilio.asked == ["rate_limited"]  # the other four waited for its Retry-After
    rows = [d for d in store.outbox.list() if d["channel"] == "sms"]
    assert {(d["status"], d["next_attempt_at"]) for d in rows} == {("pending", clock.now + 30)}
    first = min(rows, key=lambda d: d["id"])
    assert "throttled" in first["last_error"] and "Retry-After 30 s" in first["last_error"]
    assert "next try in 30 s" in first["last_error"]
    assert (
        h.metric(
            "alert_webhook_deliveries_total",
            channel="sms",
            provider="twilio1",
            outcome="throttled",
        )  # fmt: skip
        == 1
    )
    clock.advance(29.9)
    h.run()
    assert twilio.received == []  # no sooner than Retry-After
    clock.advance(0.1)
    h.run()
    assert len(twilio.received) == 5
    assert {d["status"] for d in store.outbox.list() if d["channel"] == "sms"} == {"delivered"}


def test_throttling_trips_no_breaker_and_fails_nothing_over(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.mode, twilio.retry_after = "rate_limited", "1"
    for n in range(6):  # more throttled answers than the breaker's threshold (5)
        h.receive(make_alert(f"a{n}", instance=f"h{n}:9100"))
        h.run()
        clock.advance(1)
    assert len(twilio.asked) >= 6
    assert _breaker(h) == 0  # closed: the provider answered every time
    assert h.metric("alert_webhook_escalations_total", reason="channel_failed") is None
    assert {d["status"] for d in store.outbox.list() if d["channel"] == "sms"} == {"pending"}


def test_an_http_date_retry_after_is_honoured_on_the_clock(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.queue, twilio.retry_after = ["rate_limited"], formatdate(clock.now + 120, usegmt=True)
    h.receive(make_alert("a"))
    h.run()
    assert h.deliveries()[SMS]["next_attempt_at"] == clock.now + 120


def test_an_absurd_retry_after_is_capped_at_the_give_up_time_which_then_decides(
    store, clock, box, twilio
) -> None:
    retry = {"max_attempts": 2, "give_up_after_seconds": 600}
    h = Harness(store, clock, config(box, twilio, delivery={"retry": retry}), TWILIO_ENV)
    twilio.mode, twilio.retry_after = "rate_limited", "86400"
    h.receive(make_alert("a"))
    h.run()
    sms = h.deliveries()[SMS]
    assert sms["next_attempt_at"] == sms["received_at"] + 600
    assert "Retry-After 86400 s" in sms["last_error"] and "capped" in sms["last_error"]
    clock.advance(600)
    h.run()  # still throttled at its give-up time: the alert's other channels carry it
    assert h.status()[SMS] == "escalated"
    assert h.status()[("firing", "email", "failover:sms")] in ("pending", "delivered")
    assert _breaker(h) == 0


def test_a_429_without_retry_after_backs_off_like_a_retry(store, clock, box, twilio) -> None:
    h = Harness(store, clock, config(box, twilio), TWILIO_ENV)
    twilio.queue = ["rate_limited"]
    h.receive(make_alert("a"))
    h.run()
    sms = h.deliveries()[SMS]
    assert (sms["next_attempt_at"], sms["attempts"]) == (clock.now + 4, 1)  # 2^1 × 2 s
    assert "throttled" in sms["last_error"] and _breaker(h) == 0


def test_a_throttled_provider_hands_the_message_to_the_next_in_its_chain(
    store, clock, box, twilio
) -> None:
    # Within a channel the chain goes on (a second account is what it is for);
    # the throttled one keeps its closed breaker, and the alert no other channel.
    with fake_twilio() as backup:
        chain = [twilio_provider(twilio), twilio_provider(backup, name="twilio2")]
        h = Harness(store, clock, config(box, sms_providers=chain), TWILIO_ENV)
        twilio.mode, twilio.retry_after = "rate_limited", "60"
        h.receive(make_alert("a"), make_alert("b", instance="db2:9100"))
        h.run()
    assert len(backup.received) == 2 and twilio.asked == ["rate_limited"]
    sms = h.deliveries()[SMS]
    assert (sms["status"], sms["provider"]) == ("delivered", "twilio2")
    assert _breaker(h) == 0
    assert ("firing", "email", "failover:sms") not in h.status()
