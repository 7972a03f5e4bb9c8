"""Network reachability: a TCP connect, and DNS resolution."""

from __future__ import annotations

import socket
from typing import ClassVar, Literal

from pydantic import Field

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries, CheckBase, Report


class TcpCheck(CheckBase):
    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)

    network: ClassVar[bool] = True


class DnsCheck(CheckBase):
    kind: Literal["dns"]
    query: str = Field(min_length=1)
    # When given, at least one of these addresses must be among the answers.
    expect_addresses: list[str] = Field(default_factory=list)

    network: ClassVar[bool] = True


def run_tcp(check: TcpCheck, report: Report, ctx: Boundaries) -> None:
    start = ctx.monotonic()
    try:
        with ctx.create_connection((check.host, check.port), timeout=report.remaining()):
            pass
    except TimeoutError:
        raise ProbeFailure(
            Category.TIMEOUT, f"connect to {check.host}:{check.port} timed out"
        ) from None
    report.add("probe_tcp_connect_seconds", ctx.monotonic() - start)


def run_dns(check: DnsCheck, report: Report, ctx: Boundaries) -> None:
    # getaddrinfo has no timeout of its own: the scheduler abandons a run that hangs.
    start = ctx.monotonic()
    answers = ctx.getaddrinfo(check.query, None, proto=socket.IPPROTO_TCP)
    report.add("probe_dns_lookup_time_seconds", ctx.monotonic() - start)
    addresses = {str(info[4][0]) for info in answers}
    report.add("probe_dns_answer_rrs", len(addresses))
    if check.expect_addresses and not addresses.intersection(check.expect_addresses):
        raise ProbeFailure(
            Category.DATA_INTEGRITY,
            f"{check.query} resolved to {sorted(addresses)}, "
            f"expected one of {check.expect_addresses}",
        )
