"""delivery/policy.py: the recovery plan's backoff, with the jitter's randomness passed in."""

from __future__ import annotations

from alert_webhook.delivery.policy import Backoff
from alert_webhook.delivery.settings import RetrySettings


def test_backoff_is_two_to_the_attempt_times_base_with_jitter_and_a_cap() -> None:
    exact = Backoff(base=2, cap=600, jitter=0.2, rand=lambda: 0.5)
    assert [exact.delay(a) for a in (1, 2, 3)] == [4, 8, 16]
    assert Backoff(2, 600, 0.2, rand=lambda: 0.0).delay(1) == 4 * 0.8
    assert Backoff(2, 600, 0.2, rand=lambda: 1.0).delay(1) == 4 * 1.2
    assert Backoff(2, 10, 0.0).delay(20) == 10


def test_backoff_from_settings_takes_base_cap_and_jitter() -> None:
    settings = RetrySettings(base_delay_seconds=3, max_delay_seconds=20, jitter_ratio=0.5)
    backoff = Backoff.from_settings(settings, rand=lambda: 1.0)
    assert backoff.delay(1) == 6 * 1.5
    assert backoff.delay(10) == 20 * 1.5  # capped, then jittered
