"""delivery/breaker.py on a fake clock: no test waits."""

from __future__ import annotations

from webhook_support import FakeClock

from alert_webhook.delivery.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


def _breaker(clock: FakeClock, changes: list | None = None) -> CircuitBreaker:
    on_change = (lambda n, s: changes.append(s)) if changes is not None else None
    return CircuitBreaker(
        "sms:t1", threshold=3, window=60, open_seconds=30, clock=clock, on_change=on_change
    )


def test_opens_after_threshold_failures_within_the_window() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.failure()
    assert b.state == OPEN and not b.allow()


def test_failures_outside_the_window_do_not_count() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    b.failure()
    b.failure()
    clock.advance(61)
    b.failure()
    assert b.state == CLOSED


def test_half_open_after_timeout_lets_exactly_one_trial_through() -> None:
    clock = FakeClock()
    changes: list[str] = []
    b = _breaker(clock, changes)
    for _ in range(3):
        b.failure()
    clock.advance(29.9)
    assert not b.allow()
    clock.advance(0.1)
    assert b.state == HALF_OPEN
    assert b.allow() and not b.allow()
    b.success()
    assert b.state == CLOSED and b.allow()
    assert changes == [CLOSED, OPEN, HALF_OPEN, CLOSED]


def test_failed_trial_opens_again_for_a_full_timeout() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.failure()
    clock.advance(30)
    assert b.allow()
    b.failure()
    assert b.state == OPEN and b.retry_at() == clock.now + 30
