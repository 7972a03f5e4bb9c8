"""phone_numbers.py: numbers as people write them, compared in E.164."""

from __future__ import annotations

import pytest

from alert_webhook.delivery.phone_numbers import e164


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("+15555550100", "+15555550100"),
        ("+1 (555) 555-0100", "+15555550100"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("0015555550100", "+15555550100"),
        ("+1.555.555.0100", "+15555550100"),
    ],
)
def test_numbers_as_people_write_them_become_e164(written: str, number: str) -> None:
    assert e164(written) == number


@pytest.mark.parametrize(
    "written", ["", "5555550100", "+0123456", "+1", "+1234567890123456", "+1555abc0100", "++15"]
)
def test_what_is_not_a_full_international_number_is_none(written: str) -> None:
    """Without a country code a number cannot be compared: it matches nobody."""
    assert e164(written) is None
