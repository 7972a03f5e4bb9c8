"""front_limits.py: which connection the front closes, and when — decided over
plain records, on a clock the test sets."""

from __future__ import annotations

import resource
from dataclasses import dataclass

import pytest

from alert_webhook.cli.front_limits import (
    client_key,
    overdue,
    raise_open_files_limit,
    to_make_room,
)


@dataclass(eq=False)
class Conn:
    receiving_since: float | None
    answering: bool = False


def test_a_request_still_arriving_past_the_deadline_is_overdue() -> None:
    late, on_time, between, served = Conn(100.0), Conn(105.0), Conn(None), Conn(90.0, True)
    assert overdue([late, on_time, between, served], now=130.0, deadline_seconds=30) == [late]
    assert overdue([late, on_time], now=129.9, deadline_seconds=30) == []


def test_a_full_address_gives_up_its_oldest_unfinished_connection() -> None:
    served = Conn(1.0, answering=True)  # older, but a request thread has it
    oldest, newer, between = Conn(5.0), Conn(7.0), Conn(None)
    assert to_make_room([newer, served, between, oldest]) is oldest


def test_a_full_address_of_served_or_waiting_connections_gives_up_none() -> None:
    assert to_make_room([Conn(1.0, answering=True), Conn(None)]) is None
    assert to_make_room([]) is None


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_clients_count_by_ipv4_address_or_ipv6_64(host: str, key: str) -> None:
    assert client_key(host) == key


class Limits:
    def __init__(self, soft: int, hard: int, refuse: bool = False) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse

    def get(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def set(self, which: int, limits: tuple[int, int]) -> None:
        if self.refuse:
            raise ValueError("not allowed")
        self.limits = limits


def test_the_open_files_soft_limit_is_raised_to_the_hard_one() -> None:
    limits = Limits(1024, 524288)
    assert raise_open_files_limit(limits.get, limits.set) == 524288
    assert limits.limits == (524288, 524288)


def test_an_unlimited_hard_limit_or_a_refusal_is_taken_calmly() -> None:
    limits = Limits(1024, resource.RLIM_INFINITY)
    assert raise_open_files_limit(limits.get, limits.set) == 1 << 20
    refused = Limits(1024, 4096, refuse=True)
    assert raise_open_files_limit(refused.get, refused.set) == 1024
    assert refused.limits == (1024, 4096)
