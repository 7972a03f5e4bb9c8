"""TCP connect and DNS checks on loopback."""

from __future__ import annotations

import socket

import pytest

from exporters.checks.base import Boundaries


def test_tcp_open_port(check, run, http_target):
    outcome = run(check(kind="tcp", address=f"127.0.0.1:{http_target.port}"))
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_tcp_connect_seconds") >= 0


def test_tcp_host_and_port_form(check, run, http_target):
    assert run(check(kind="tcp", host="127.0.0.1", port=http_target.port)).category is None


def test_tcp_closed_port_is_connection(check, run, closed_port):
    assert run(check(kind="tcp", address=f"127.0.0.1:{closed_port}")).category == "connection"


def test_tcp_unresolvable_name_is_connection(check, run):
    assert run(check(kind="tcp", address="no-such-host.invalid:80")).category == "connection"


def test_tcp_connect_timeout(check, run):
    def blackhole(address, timeout):
        raise TimeoutError("timed out")

    outcome = run(
        check(kind="tcp", address="10.255.255.1:80"), ctx=Boundaries(create_connection=blackhole)
    )
    assert outcome.category == "timeout"


@pytest.mark.parametrize("address", ["nocolon", "host:", ":80", "host:99999", "host:http"])
def test_tcp_bad_address_is_refused_at_load(check, address):
    with pytest.raises(ValueError, match="host:port"):
        check(kind="tcp", address=address)


def test_dns_resolves_localhost(check, run):
    outcome = run(check(kind="dns", query="localhost", expect_addresses=["127.0.0.1", "::1"]))
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_dns_answer_rrs") >= 1
    assert outcome.value("probe_dns_lookup_time_seconds") >= 0


def test_dns_unresolvable_name_is_connection(check, run):
    assert run(check(kind="dns", query="no-such-host.invalid")).category == "connection"


def test_dns_unexpected_answer_is_data_integrity(check, run):
    outcome = run(check(kind="dns", query="localhost", expect_addresses=["192.0.2.1"]))
    assert outcome.category == "data_integrity"


def test_dns_resolver_failure_modes(check, run):
    def temporary(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    outcome = run(check(kind="dns", query="example.test"), ctx=Boundaries(getaddrinfo=temporary))
    assert outcome.category == "connection"
