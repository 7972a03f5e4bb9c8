"""db/deadlines.py: a checked-out connection past its deadline is cut; one
checked in first is not; `wait_limit` gives a block its own bound or none.
Driven on a fake clock with a fake cut: no thread, no sleep."""

from __future__ import annotations

from alert_webhook.db.deadlines import Deadlines, wait_limit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _deadlines(clock: Clock, cut: list[str]) -> Deadlines:
    return Deadlines(3.0, clock=clock, cut=cut.append, start_thread=False)


def test_a_connection_held_past_its_deadline_is_cut_once() -> None:
    clock, cut = Clock(), list[str]()
    deadlines = _deadlines(clock, cut)
    entry = object()
    deadlines.arm(entry, "conn-a")
    clock.now = 2.9
    assert deadlines.expire() == 3.0 and cut == []
    clock.now = 3.0
    assert deadlines.expire() is None
    assert deadlines.expire() is None
    assert cut == ["conn-a"] and deadlines.cuts == 1


def test_a_connection_checked_in_in_time_is_never_cut() -> None:
    clock, cut = Clock(), list[str]()
    deadlines = _deadlines(clock, cut)
    entry = object()
    deadlines.arm(entry, "conn-a")
    deadlines.disarm(entry)
    clock.now = 100.0
    assert deadlines.expire() is None and cut == []


def test_a_checkout_gets_the_deadline_of_its_block() -> None:
    clock, cut = Clock(), list[str]()
    deadlines = _deadlines(clock, cut)
    ping, upgrade, plain = object(), object(), object()
    with wait_limit(0.5):
        deadlines.arm(ping, "ping")
    with wait_limit(None):
        deadlines.arm(upgrade, "upgrade")
    deadlines.arm(plain, "plain")
    clock.now = 0.5
    assert deadlines.expire() == 3.0 and cut == ["ping"]
    clock.now = 1000.0
    deadlines.expire()
    assert cut == ["ping", "plain"]  # the upgrade has no deadline
