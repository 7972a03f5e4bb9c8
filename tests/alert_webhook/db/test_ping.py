"""db/ping.py: a ping that hangs answers "no" within the caller's timeout, and
however often asked, one ping at most waits on the store."""

from __future__ import annotations

import threading

from alert_webhook.db.ping import BoundedPing


class HungStore:
    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.pings = 0

    def __call__(self, timeout: float) -> None:
        self.pings += 1
        self.entered.set()
        self.release.wait()


def test_a_hung_store_is_not_ready_and_is_pinged_once() -> None:
    store = HungStore()
    ping = BoundedPing(store)
    try:
        assert ping(0.0) is False
        assert store.entered.wait(10)
        assert ping(0.0) is False  # the first one still waits: no second
        assert store.pings == 1
    finally:
        store.release.set()


def test_a_store_that_answers_is_ready() -> None:
    ping = BoundedPing(lambda timeout: None)
    assert ping(10.0) is True


def test_a_store_that_fails_is_not_ready() -> None:
    def refused(timeout: float) -> None:
        raise ConnectionError("refused")

    assert BoundedPing(refused)(10.0) is False
