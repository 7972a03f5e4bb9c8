"""Rate-limit headroom read from an answer's headers: every format the probe meets,
and garbage, which is ignored with a reason and never raises."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.checks.base import Report
from exporters.checks.ratelimit import HEADERS, Headroom, publish, read_headroom

NOW = 1_700_000_000.0


def read(*pairs: tuple[str, str]) -> Headroom:
    return read_headroom(list(pairs), NOW)


def http_date(at: float) -> str:
    return email.utils.formatdate(at, usegmt=True)


def test_no_rate_limit_headers_means_nothing_known():
    headroom = read(("Content-Type", "application/json"))
    assert headroom == Headroom()


def test_ietf_ratelimit_with_its_policy():
    headroom = read(
        ("RateLimit-Policy", '"default";q=100;w=60'),
        ("RateLimit", '"default";r=50;t=30'),
    )
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (100, 50, 30)
    assert headroom.invalid == ()


def test_ietf_ratelimit_without_a_policy_has_no_limit():
    headroom = read(("RateLimit", '"default";r=7;t=3'))
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (None, 7, 3)


def test_ietf_ratelimit_publishes_the_tightest_of_several_policies():
    # 90 of 100 per minute left, but only 20 of 1000 for the day: the day is the risk.
    headroom = read(
        ("RateLimit-Policy", '"burst";q=100;w=60, "daily";q=1000;w=86400'),
        ("RateLimit", '"burst";r=90;t=30, "daily";r=20;t=3600'),
    )
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (1000, 20, 3600)


def test_ietf_ratelimit_fields_split_over_two_header_lines_are_one_list():
    headroom = read(
        ("RateLimit-Policy", '"burst";q=100;w=60'),
        ("RateLimit-Policy", '"daily";q=1000;w=86400'),
        ("RateLimit", '"burst";r=1;t=30'),
        ("RateLimit", '"daily";r=900;t=3600'),
    )
    assert (headroom.limit, headroom.remaining) == (100, 1)


def test_ietf_ratelimit_draft_07_dictionary():
    headroom = read(("RateLimit", "limit=100, remaining=50, reset=5"))
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (100, 50, 5)


def test_ietf_ratelimit_older_separate_fields():
    headroom = read(
        ("RateLimit-Limit", "10, 10;w=1, 50;w=60"),
        ("RateLimit-Remaining", "3"),
        ("RateLimit-Reset", "7"),
    )
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (10, 3, 7)


def test_x_ratelimit_with_an_epoch_reset():
    # GitHub's shape: the reset is a Unix time, published as the seconds left until it.
    headroom = read(
        ("X-RateLimit-Limit", "5000"),
        ("X-RateLimit-Remaining", "4999"),
        ("X-RateLimit-Reset", str(int(NOW) + 120)),
    )
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (5000, 4999, 120)


def test_x_ratelimit_with_a_delta_reset():
    headroom = read(("X-RateLimit-Remaining", "2"), ("X-RateLimit-Reset", "60"))
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (None, 2, 60)


def test_a_reset_time_already_passed_is_zero_seconds_away():
    headroom = read(("X-RateLimit-Reset", str(int(NOW) - 30)))
    assert headroom.reset_seconds == 0


def test_an_epoch_reset_in_the_older_ietf_field_too():
    # GitLab sends RateLimit-Reset as a Unix time.
    assert read(("RateLimit-Reset", str(int(NOW) + 45))).reset_seconds == 45


def test_decimal_x_ratelimit_values_are_read():
    headroom = read(("X-RateLimit-Remaining", "4.0"), ("X-RateLimit-Reset", "1.5"))
    assert (headroom.remaining, headroom.reset_seconds) == (4, 1.5)


def test_header_names_are_case_insensitive():
    headroom = read(("x-ratelimit-limit", "60"), ("X-RATELIMIT-REMAINING", "6"))
    assert (headroom.limit, headroom.remaining) == (60, 6)


def test_the_ietf_fields_win_over_the_de_facto_ones():
    headroom = read(
        ("X-RateLimit-Limit", "5000"),
        ("X-RateLimit-Remaining", "4000"),
        ("RateLimit-Policy", '"default";q=100;w=60'),
        ("RateLimit", '"default";r=5;t=30'),
        ("X-RateLimit-Reset", "99"),
    )
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (100, 5, 30)


def test_a_field_missing_from_the_ietf_answer_comes_from_the_de_facto_one():
    headroom = read(("RateLimit", '"default";r=5'), ("X-RateLimit-Reset", "12"))
    assert (headroom.remaining, headroom.reset_seconds) == (5, 12)


def test_retry_after_in_seconds():
    assert read(("Retry-After", "30")).retry_after_seconds == 30


def test_retry_after_as_an_http_date():
    assert read(("Retry-After", http_date(NOW + 90))).retry_after_seconds == 90


def test_retry_after_a_date_already_passed_is_zero():
    assert read(("Retry-After", http_date(NOW - 90))).retry_after_seconds == 0


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("RateLimit", '"default";t=30'),  # no remaining units
        ("RateLimit", '"default";r=-1'),
        ("RateLimit", '"default";r="ten"'),
        ("RateLimit", "r=5, t=oops"),
        ("RateLimit", ";;;"),
        ("RateLimit-Policy", '"default";w=60'),  # no quota
        ("RateLimit-Limit", "ten"),
        ("RateLimit-Remaining", "-3"),
        ("RateLimit-Reset", "soon"),
        ("X-RateLimit-Limit", "5000 requests"),
        ("X-RateLimit-Remaining", "NaN"),
        ("X-RateLimit-Remaining", "inf"),
        ("X-RateLimit-Remaining", "1e400"),
        ("X-RateLimit-Reset", "-1"),
        ("X-RateLimit-Reset", "4, 5"),
        ("Retry-After", "tomorrow"),
        ("Retry-After", "-10"),
        ("Retry-After", "Mon, 99 Foo 2026 99:99:99 GMT"),
        ("Retry-After", ""),
    ],
)
def test_malformed_headers_are_ignored_with_their_reason(header, value):
    headroom = read((header, value))
    assert (headroom.limit, headroom.remaining, headroom.reset_seconds) == (None, None, None)
    assert headroom.retry_after_seconds is None
    [(name, reason)] = headroom.invalid
    assert name == header.lower()
    assert reason


def test_a_malformed_header_leaves_the_good_ones_read():
    headroom = read(("X-RateLimit-Limit", "many"), ("X-RateLimit-Remaining", "5"))
    assert (headroom.limit, headroom.remaining) == (None, 5)
    assert [name for name, _ in headroom.invalid] == ["x-ratelimit-limit"]


def test_a_policy_without_a_ratelimit_field_gives_no_headroom():
    # RateLimit-Policy alone says what the quota is, not what is left of it.
    headroom = read(("RateLimit-Policy", '"default";q=100;w=60'))
    assert headroom.remaining is None and headroom.limit is None


@given(
    st.lists(
        st.tuples(st.sampled_from([h.title() for h in HEADERS]), st.text(max_size=60)),
        max_size=6,
    )
)
def test_no_header_value_makes_it_raise(pairs):
    headroom = read_headroom(pairs, NOW)
    for value in (headroom.limit, headroom.remaining, headroom.reset_seconds):
        assert value is None or value >= 0
    assert all(name in HEADERS for name, _ in headroom.invalid)


def samples(report: Report) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in report.samples}


def test_publish_adds_only_what_the_answer_said():
    report = Report(5, lambda: 0.0)
    publish(Headroom(remaining=3, retry_after_seconds=30), report)
    assert samples(report) == {
        ("probe_http_ratelimit_remaining", ()): 3,
        ("probe_http_retry_after_seconds", ()): 30,
    }


def test_publish_names_each_unreadable_header():
    report = Report(5, lambda: 0.0)
    publish(Headroom(limit=10, invalid=(("x-ratelimit-reset", "not a number"),)), report)
    assert samples(report) == {
        ("probe_http_ratelimit_limit", ()): 10,
        ("probe_http_ratelimit_header_invalid", (("header", "x-ratelimit-reset"),)): 1,
    }
