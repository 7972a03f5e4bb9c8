"""db/outage.py: a store that keeps failing is logged once when it goes and once
when it is back, with how long and how many uses failed meanwhile."""

from __future__ import annotations

import logging

import pytest

from alert_webhook.db.outage import Outage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_two_lines_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage(clock)
    caplog.set_level(logging.WARNING, "alert_webhook.store")
    outage.succeeded()
    for _ in range(160):  # ten seconds of 16 failures a second
        outage.failed("connection refused")
        clock.now += 1 / 16
    assert outage.down
    outage.succeeded()
    outage.succeeded()
    assert not outage.down
    assert [r.getMessage() for r in caplog.records] == [
        "store unavailable; work waits and ingest answers 503: connection refused",
        "store available again after 10.0s; 160 store uses were refused or failed meanwhile",
    ]


def test_each_outage_counts_afresh(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage(clock)
    caplog.set_level(logging.WARNING, "alert_webhook.store")
    outage.failed("first")
    outage.succeeded()
    outage.failed("second")
    outage.failed("second")
    clock.now += 2.5
    outage.succeeded()
    assert caplog.records[-1].getMessage() == (
        "store available again after 2.5s; 2 store uses were refused or failed meanwhile"
    )
    assert len(caplog.records) == 4
