"""allocator.py: the webhook asks glibc for few arenas before its threads exist,
and gives free pages back once a burst has drained (issue 27, the storm's RSS)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import alert_webhook
from alert_webhook.cli import allocator, serve
from alert_webhook.db.transactions import StoreUnavailable


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_the_arena_cap_is_asked_of_glibc() -> None:
    libc = FakeLibc()
    assert allocator.limit_arenas(libc, env={})
    assert libc.calls == [("mallopt", allocator.M_ARENA_MAX, allocator.ARENA_MAX)]


def test_an_operators_malloc_arena_max_wins() -> None:
    libc = FakeLibc()
    assert not allocator.limit_arenas(libc, env={"MALLOC_ARENA_MAX": "4"})
    assert libc.calls == []


def test_elsewhere_than_glibc_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.glibc() is None
    assert not allocator.limit_arenas(env={})
    assert not allocator.trim()


def test_trim_gives_every_free_page_back() -> None:
    libc = FakeLibc()
    assert allocator.trim(libc)
    assert libc.calls == [("malloc_trim", 0)]


def test_the_webhooks_start_up_caps_arenas_before_the_app_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "glibc", lambda: libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    seen: list[list[tuple[Any, ...]]] = []

    def create_app(*args: Any, **kwargs: Any) -> Any:
        seen.append(list(libc.calls))  # what was asked before threads could exist
        raise StoreUnavailable("down")

    monkeypatch.setattr(alert_webhook, "create_app", create_app)
    settings: Any = SimpleNamespace(store=SimpleNamespace(url="sqlite:///x.db"))
    assert serve._serve(settings, "127.0.0.1", 1, 2, None, {}) == serve.EXIT_STORE
    assert seen == [[("mallopt", allocator.M_ARENA_MAX, allocator.ARENA_MAX)]]


def test_the_trim_pass_waits_for_a_burst_to_drain() -> None:
    libc = FakeLibc()
    work = [0]
    forgotten: list[int] = []
    step = allocator.trimmer(libc, lambda: work[0], lambda: forgotten.append(work[0]))
    assert step() == 0  # the first pass only looks
    work[0] = 500  # a burst
    assert step() == 0
    assert libc.calls == [] and forgotten == []
    assert step() == 0  # nothing new since the last pass: drained
    assert libc.calls == [("malloc_trim", 0)] and forgotten == [500]


def test_the_trim_pass_without_glibc_still_forgets() -> None:
    forgotten: list[int] = []
    step = allocator.trimmer(None, lambda: 0, lambda: forgotten.append(1))
    step()
    step()
    assert forgotten == [1]
