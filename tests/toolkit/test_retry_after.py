"""`Retry-After` read one way for the probe and the delivery worker: seconds or an
HTTP date, anything else unreadable."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from toolkit.retry_after import RetryAfter, parse_retry_after

NOW = 1_800_000_000.0


def test_seconds_are_a_delay() -> None:
    assert parse_retry_after("120") == RetryAfter(seconds=120.0)
    assert parse_retry_after(" 0 ") == RetryAfter(seconds=0.0)
    assert RetryAfter(seconds=120.0).wait(NOW) == 120.0


def test_an_http_date_is_a_moment_and_one_passed_means_now() -> None:
    later = parse_retry_after(formatdate(NOW + 90, usegmt=True))
    assert later is not None and later.wait(NOW) == 90.0
    passed = parse_retry_after(formatdate(NOW - 90, usegmt=True))
    assert passed is not None and passed.wait(NOW) == 0.0


def test_a_date_in_minus_zero_zone_is_utc() -> None:
    gmt = parse_retry_after(formatdate(NOW + 30, usegmt=True))
    minus_zero = parse_retry_after(formatdate(NOW + 30, usegmt=True).replace("GMT", "-0000"))
    assert gmt == minus_zero


@pytest.mark.parametrize(
    "unreadable", [None, "", "soon", "-5", "1e9x", "Fri, 99 Foo 2026", "\u00b9", "\u0661\u0662"]
)
def test_anything_else_is_unreadable(unreadable: str | None) -> None:
    assert parse_retry_after(unreadable) is None
