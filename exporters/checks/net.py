"""Network reachability: a TCP connect, and DNS resolution."""

from __future__ import annotations

import socket
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries, CheckBase, Report


class TcpCheck(CheckBase):
    """`address: host:port` (as blackbox_exporter's target), or `host` and `port`."""

    kind: Literal["tcp"]
    address: str | None = None
    host: str | None = Field(default=None, min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)

    network: ClassVar[bool] = True

    @model_validator(mode="after")
    def _one_target(self) -> TcpCheck:
        if self.address is not None:
            host, sep, port = self.address.rpartition(":")
            if self.host is not None or self.port is not None:
                raise ValueError("give address, or host and port, not both")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"address must be host:port, got {self.address!r}")
        elif self.host is None or self.port is None:
            raise ValueError("give address (host:port), or host and port")
        return self

    def target(self) -> tuple[str, int]:
        if self.address is not None:
            host, _, port = self.address.rpartition(":")
            return host.strip("[]"), int(port)
        assert self.host is not None and self.port is not None
        return self.host, self.port

    def instance(self) -> str:
        return self.address or f"{self.host}:{self.port}"


class DnsCheck(CheckBase):
    kind: Literal["dns"]
    query: str = Field(min_length=1)
    # When given, at least one of these addresses must be among the answers.
    expect_addresses: list[str] = Field(default_factory=list)

    network: ClassVar[bool] = True

    def instance(self) -> str:
        return self.query


def run_tcp(check: TcpCheck, report: Report, ctx: Boundaries) -> None:
    host, port = check.target()
    start = ctx.monotonic()
    try:
        with ctx.create_connection((host, port), timeout=report.remaining()):
            pass
    except TimeoutError:
        raise ProbeFailure(Category.TIMEOUT, f"connect to {host}:{port} timed out") from None
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
