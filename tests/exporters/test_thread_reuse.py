"""Threads that take the next target once idle: reuse where idle, a new thread where not.

Real threads, coordinated by events; no test waits out a linger.
"""

from __future__ import annotations

import threading

from exporters.thread_reuse import ThreadReuse


def run_on(reuse: ThreadReuse) -> threading.Thread:
    """The thread `reuse` ran a target on, once that thread is idle again."""
    ran: list[threading.Thread] = []
    reuse(lambda: ran.append(threading.current_thread()))
    assert reuse.wait_idle(1, 10)
    return ran[0]


def test_an_idle_thread_takes_the_next_target():
    reuse = ThreadReuse("test")
    first = run_on(reuse)
    assert run_on(reuse) is first
    assert run_on(reuse) is first
    assert reuse.started == 1


def test_a_busy_thread_is_not_waited_for_a_new_one_starts():
    reuse = ThreadReuse("test")
    release = threading.Event()
    holding = threading.Event()

    def stuck() -> None:
        holding.set()
        release.wait(10)

    reuse(stuck)
    assert holding.wait(10)
    try:
        other = run_on(reuse)  # would hang here if it queued behind the stuck one
        assert reuse.started == 2
        assert other.name == "test"
    finally:
        release.set()
    assert reuse.wait_idle(2, 10)


def test_a_target_that_raises_leaves_the_thread_serving(caplog):
    reuse = ThreadReuse("test")

    def broken() -> None:
        raise RuntimeError("boom")

    first = run_on(reuse)
    reuse(broken)
    assert reuse.wait_idle(1, 10)
    assert run_on(reuse) is first
    assert reuse.started == 1
    assert "test: a target raised" in caplog.text


def test_an_idle_thread_ends_after_its_linger():
    reuse = ThreadReuse("test", linger=0)
    ran: list[threading.Thread] = []
    done = threading.Event()

    def target() -> None:
        ran.append(threading.current_thread())
        done.set()

    reuse(target)
    assert done.wait(10)
    ran[0].join(10)
    assert not ran[0].is_alive()
    assert reuse.idle() == 0
    reuse(lambda: None)
    assert reuse.started == 2
