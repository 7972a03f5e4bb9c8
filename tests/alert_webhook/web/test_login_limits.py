"""web/login_limits.py: back-off per operator name and per client address after
failed logins, and a cap on password checks running at once. A fake clock moves."""

from __future__ import annotations

import pytest
from webhook_support import FakeClock

from alert_webhook.config.auth import LoginLimitSettings
from alert_webhook.web.login_limits import Backoff, FailureBackoff, LoginLimits, PasswordChecks

BACKOFF = Backoff(free_failures=3, first_seconds=1.0, max_seconds=30.0)


def test_the_wait_is_none_for_the_first_failures_then_doubles_up_to_the_cap() -> None:
    waits = [BACKOFF.wait(failures) for failures in range(10)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30]


def test_a_huge_number_of_failures_waits_the_cap_without_overflowing() -> None:
    assert BACKOFF.wait(10_000) == 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def failures(clock: FakeClock) -> FailureBackoff:
    return FailureBackoff(BACKOFF, clock, forget_after_seconds=600, max_keys=3)


def fail(failures: FailureBackoff, key: str, times: int) -> None:
    for _ in range(times):
        failures.failed(key)


def test_a_key_may_try_at_once_until_its_free_failures_are_spent(failures, clock) -> None:
    fail(failures, "alice", 2)
    assert failures.retry_after("alice") == 0
    failures.failed("alice")
    assert failures.retry_after("alice") == 1.0
    clock.advance(0.25)
    assert failures.retry_after("alice") == 0.75
    clock.advance(0.75)
    assert failures.retry_after("alice") == 0


def test_each_further_failure_doubles_the_wait_up_to_the_cap(failures, clock) -> None:
    seen = []
    for _ in range(9):
        failures.failed("alice")
        seen.append(failures.retry_after("alice"))
        clock.advance(seen[-1])
    assert seen == [0, 0, 1, 2, 4, 8, 16, 30, 30]


def test_keys_are_apart(failures) -> None:
    fail(failures, "alice", 5)
    assert failures.retry_after("alice") > 0
    assert failures.retry_after("bob") == 0


def test_a_success_forgets_the_failures(failures) -> None:
    fail(failures, "alice", 5)
    failures.forget("alice")
    assert failures.retry_after("alice") == 0
    failures.failed("alice")
    assert failures.retry_after("alice") == 0


def test_failures_are_forgotten_after_a_quiet_while(failures, clock) -> None:
    fail(failures, "alice", 5)
    clock.advance(600 + 4)  # past the wait and the quiet period after it
    failures.failed("alice")
    assert failures.retry_after("alice") == 0  # counted afresh: one failure


def test_past_max_keys_the_longest_quiet_key_is_dropped(failures, clock) -> None:
    for key in ("a", "b", "c", "d"):
        fail(failures, key, 3)
        clock.advance(0.1)
    assert failures.retry_after("a") == 0
    assert all(failures.retry_after(key) > 0 for key in ("b", "c", "d"))
    assert len(failures) == 3


def test_one_password_check_at_a_time_others_are_told_at_once() -> None:
    checks = PasswordChecks(concurrent=1)
    with checks.slot() as first, checks.slot() as second:
        assert (first, second) == (True, False)
    with checks.slot() as again:
        assert again


def test_two_checks_at_a_time() -> None:
    checks = PasswordChecks(concurrent=2)
    with checks.slot() as a, checks.slot() as b, checks.slot() as c:
        assert (a, b, c) == (True, True, False)


@pytest.fixture
def limits(clock: FakeClock) -> LoginLimits:
    settings = LoginLimitSettings(free_failures=3, first_backoff_seconds=1, max_backoff_seconds=30)
    return LoginLimits.of(settings, clock)


def test_one_name_guessed_from_many_addresses_backs_off_that_name(limits) -> None:
    for n in range(3):
        limits.failed("alice", f"10.0.0.{n}")
    assert limits.retry_after("alice", "10.0.0.99") == 1.0
    assert limits.retry_after("bob", "10.0.0.99") == 0


def test_many_names_tried_from_one_address_back_off_that_address(limits) -> None:
    for name in ("alice", "bob", "carol"):
        limits.failed(name, "10.0.0.1")
    assert limits.retry_after("dave", "10.0.0.1") == 1.0
    assert limits.retry_after("dave", "10.0.0.2") == 0


def test_the_longer_of_the_two_waits_is_the_answer(limits, clock) -> None:
    for _ in range(5):
        limits.failed("alice", "10.0.0.1")  # both at 4 s
    limits.failed("alice", "10.0.0.2")  # alice: 8 s
    assert limits.retry_after("alice", "10.0.0.1") == 8.0


def test_the_right_password_clears_that_name_and_address(limits) -> None:
    for _ in range(4):
        limits.failed("alice", "10.0.0.1")
    limits.succeeded("alice", "10.0.0.1")
    assert limits.retry_after("alice", "10.0.0.1") == 0
    limits.failed("alice", "10.0.0.1")
    assert limits.retry_after("alice", "10.0.0.1") == 0


def test_a_long_name_is_kept_short() -> None:
    clock = FakeClock()
    failures = FailureBackoff(BACKOFF, clock, forget_after_seconds=600, max_keys=10)
    fail(failures, "x" * 10_000, 3)
    assert failures.retry_after("x" * 10_000) == 1.0
    assert all(len(key) <= 64 for key in failures.tracked())
